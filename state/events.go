package state

// ProjectInfo names the project an event belongs to.
type ProjectInfo struct {
	ID            int64
	Path          string
	DefaultBranch string
}
