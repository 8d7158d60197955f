package collector

import (
	"bufio"
	"fmt"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// RegistryPart is what Write leaves to a registry: the exporter's own
// metrics and the job metrics that are single series. Write completes its
// output with every job family that has labels.
func (m *Metrics) RegistryPart() prometheus.Collector { return registryPart{m} }

type registryPart struct{ m *Metrics }

func (c registryPart) Describe(ch chan<- *prometheus.Desc) {
	c.m.Jobs.describeRest(ch)
	c.m.SelfMetrics.Describe(ch)
}

func (c registryPart) Collect(ch chan<- prometheus.Metric) {
	c.m.Jobs.collectRest(ch)
	c.m.SelfMetrics.Collect(ch)
}

// Writes reports whether Write writes format f: the text formats and
// delimited protobuf. Others go through a registry holding m whole.
func Writes(f expfmt.Format) bool {
	switch f.FormatType() {
	case expfmt.TypeTextPlain, expfmt.TypeOpenMetrics, expfmt.TypeProtoDelim:
		return true
	}
	return false
}

// Write writes what rest gathers (a registry holding RegistryPart and
// whatever else is exported), then the job families, in format f (see
// Writes). The output is what expfmt would write for a registry holding m
// whole, with the job families last.
//
// The job families are nearly all of it: at 2,000 projects well over a
// million lines, and building client_model objects for them to have
// expfmt encode them took 2.8 s a scrape. They are written straight from
// their series.
func (m *Metrics) Write(w io.Writer, f expfmt.Format, rest prometheus.Gatherer) error {
	if !Writes(f) {
		return fmt.Errorf("collector: cannot write format %s", f)
	}
	mfs, err := rest.Gather()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := expfmt.NewEncoder(bw, f)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	if err := m.Jobs.write(bw, f); err != nil {
		return err
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		if err := closer.Close(); err != nil { // OpenMetrics' "# EOF"
			return err
		}
	}
	return bw.Flush()
}
