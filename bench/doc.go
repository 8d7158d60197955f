// Package bench measures the exporter at GitLab scale: the real scraper,
// gitlabapi client and collector poll the fake GitLab (gitlabtest) over
// loopback, on a manual clock shared with the fake, so that hours of CI
// traffic run in minutes. See BENCHMARKS.md for the method and results.
//
// Print the tables (the fake runs in a child process, so CPU, heap and RSS
// are the exporter's alone):
//
//	go test -run '^$' -bench . -benchtime 1x -timeout 2h ./bench/
//
// Profile the large scenario:
//
//	go test -run '^$' -bench 'Large$' -benchtime 1x -cpuprofile cpu.out ./bench/
//	go tool pprof -top bench.test cpu.out
//	BENCH_HEAPPROFILE_DIR=/tmp go test -run '^$' -bench 'Large$' -benchtime 1x ./bench/
//
// Switches: BENCH_HOURS, BENCH_<NAME>_HOURS (e.g. BENCH_LARGE_HOURS=6),
// BENCH_IN_PROCESS, BENCH_NO_STORE, BENCH_METRICS (native, all-labels, no-pipelines),
// BENCH_HEAPPROFILE_DIR, BENCH_PARKED_RECHECK (e.g. 1m), BENCH_WEBHOOKS (a
// 10-minute reconciliation with webhooks, 5 % of deliveries lost,
// duplicated and reordered), BENCH_HINT_STEP (15s); see BENCHMARKS.md.
//
// The large scenario as each of four shards, side by side:
//
//	go test -run '^$' -bench 'LargeSharded$' -benchtime 1x ./bench/
//
// The memory of a manual job nobody plays, followed for poll.parked_max_age:
//
//	go test -run '^$' -bench ParkedJobMemory -benchtime 1x ./bench/
//
// The CI check (exactness and request bounds only, no times):
//
//	go test -run TestBenchSmoke ./bench/
package bench
