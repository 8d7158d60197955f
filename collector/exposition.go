package collector

import (
	"bufio"
	"io"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// WithoutHistograms is every metric of m except the job histograms, for a
// registry whose output WriteText completes with them.
func (m *Metrics) WithoutHistograms() prometheus.Collector { return allButHistograms{m} }

type allButHistograms struct{ m *Metrics }

func (c allButHistograms) Describe(ch chan<- *prometheus.Desc) {
	c.m.Jobs.describeAllButHistograms(ch)
	c.m.Exporter.Describe(ch)
}

func (c allButHistograms) Collect(ch chan<- prometheus.Metric) {
	c.m.Jobs.collectAllButHistograms(ch)
	c.m.Exporter.Collect(ch)
}

// TextFormat reports whether WriteText writes format f; other formats
// (protobuf) go through a registry holding m whole.
func TextFormat(f expfmt.Format) bool {
	t := f.FormatType()
	return t == expfmt.TypeTextPlain || t == expfmt.TypeOpenMetrics
}

// WriteText writes what rest gathers (a registry holding WithoutHistograms
// and whatever else is exported), then the job histograms, in the text or
// OpenMetrics format f. The output is what expfmt would write for a
// registry holding m whole, histogram families last.
func (m *Metrics) WriteText(w io.Writer, f expfmt.Format, rest prometheus.Gatherer) error {
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
	openMetrics := f.FormatType() == expfmt.TypeOpenMetrics
	for _, h := range m.histograms() {
		if err := h.writeText(bw, openMetrics); err != nil {
			return err
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok {
		if err := closer.Close(); err != nil { // OpenMetrics' "# EOF"
			return err
		}
	}
	return bw.Flush()
}
