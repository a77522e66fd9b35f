package sandbox

// ApplyRetention makes the embedded broker apply retention now, as it
// does on its own every hour.
func (s *Sandbox) ApplyRetention() { s.cluster.ApplyRetention() }
