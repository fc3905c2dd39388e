// Package bench measures Sirocco against the goals in DESIGN ("Goals we
// measure"). Benchmarks run real components on loopback: `make bench`, or
// `go test -run '^$' -bench . ./bench/`. Latency percentiles are reported as
// custom metrics (p50-ms, p99-ms) next to requests per second (req/s).
package bench
