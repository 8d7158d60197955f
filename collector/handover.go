package collector

// ProjectHandedOver drops what the project's new shard exports now: its
// gauges and poll series. Its counters and histograms stay: they hold the
// counts of this shard's last poll of it, which the new owner does not
// have, and expire after metrics.series_ttl like any series that stops
// changing.
func (m *Metrics) ProjectHandedOver(path string) {
	m.Jobs.ProjectHandedOver(path)
	m.Self.ProjectRemoved(path)
}

// ProjectHandedOver drops the project's gauges: what is unfinished now and
// its latest jobs and pipelines.
func (j *Jobs) ProjectHandedOver(path string) {
	j.mu.Lock()
	delete(j.followed, path)
	j.mu.Unlock()
	if j.active != nil {
		j.active.deleteProject(path)
	}
	if j.last != nil {
		j.last.deleteProject(path)
	}
	if j.pipelines.last != nil {
		j.pipelines.last.deleteProject(path)
	}
	if j.pipelines.active != nil {
		j.pipelines.active.deleteProject(path)
	}
}
