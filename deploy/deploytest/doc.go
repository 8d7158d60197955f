// Package deploytest holds helpers shared by the tests of dashboards/ and
// deploy/: locating the repository, finding external tools (promtool, amtool,
// ...), the list of metrics the exporter exports, and which metrics and labels
// a PromQL expression selects (with Prometheus's own parser).
//
// It is an ordinary (non-test) package rather than deploy/internal because Go
// forbids dashboards/ from importing deploy/internal/....
package deploytest
