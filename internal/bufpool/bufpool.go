// Package bufpool keeps large I/O buffers for reuse. Unlike sync.Pool it
// survives garbage collections, so a steady stream of uploads reuses the
// same few megabytes instead of allocating fresh buffers after every GC
// (which shows up as resident memory the runtime returns to the OS only
// slowly).
package bufpool

// Pool holds up to max buffers of one size.
type Pool struct {
	size int
	free chan *[]byte
}

// New returns a pool of size-byte buffers keeping at most max idle ones.
func New(size, max int) *Pool {
	return &Pool{size: size, free: make(chan *[]byte, max)}
}

// Get returns a buffer of the pool's size.
func (p *Pool) Get() *[]byte {
	select {
	case b := <-p.free:
		return b
	default:
		b := make([]byte, p.size)
		return &b
	}
}

// Put returns a buffer; beyond max idle buffers it is left to the GC.
func (p *Pool) Put(b *[]byte) {
	if b == nil || cap(*b) < p.size {
		return
	}
	*b = (*b)[:p.size]
	select {
	case p.free <- b:
	default:
	}
}
