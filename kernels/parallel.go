package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool shared by the parallel kernels of this package.
//
// A fixed set of runtime.GOMAXPROCS(0)-1 goroutines (measured when the pool is
// first used) waits on a channel of wake-ups. A parallel region is cut into
// chunks that participants claim one at a time through an atomic counter: the
// calling goroutine always takes part, and every pool worker it wakes joins in
// as soon as it is free. A region therefore never waits for a busy or slow
// worker to start (if none comes, the caller runs every chunk), and nested
// regions (a ParallelFor body calling Sgemm, say) cannot deadlock: while it
// waits for the chunks still running elsewhere, the caller runs any other
// queued work.

// chunkRunner is the body of a parallel region: runChunk runs chunk number
// chunk on behalf of participant worker, which is unique among the
// participants running at the same time and smaller than the worker bound
// given to parallelRun (so it can index per-participant scratch buffers).
type chunkRunner interface {
	runChunk(worker, chunk int)
}

// parJob is one parallel region in flight. Jobs are recycled through jobFree,
// so a region allocates nothing in steady state.
//
// Workers are woken with parTokens naming the job and its generation. A
// worker registers as a participant by incrementing the active count in
// state, which only succeeds while the generation matches and the job is
// not closed; so the caller never waits for a wake-up still queued (on a
// loaded machine a worker may take milliseconds to get a CPU): once all
// chunks are done it closes the job, waits for the registered participants
// to leave (they are finishing a chunk or about to find none) and recycles
// it, leaving stale tokens behind.
type parJob struct {
	r      chunkRunner
	chunks int64
	next   atomic.Int64  // next chunk to claim
	done   atomic.Int64  // chunks completed
	ids    atomic.Int64  // next participant id
	state  atomic.Uint64 // generation<<32 | closed bit | registered workers
	fin    chan struct{} // the completer of the last chunk signals the caller

	// ParallelFor's body and range, when r is the job itself.
	fn       func(lo, hi int)
	n, parts int
}

// parToken wakes a worker for generation gen of job j.
type parToken struct {
	j   *parJob
	gen uint32
}

const parClosed = 1 << 31

var (
	poolOnce  sync.Once
	poolQueue chan parToken
	poolSize  int // participants: workers + the caller

	jobFree freeList[parJob]
)

func startPool() {
	poolSize = runtime.GOMAXPROCS(0)
	if poolSize < 1 {
		poolSize = 1
	}
	poolQueue = make(chan parToken, 64*poolSize)
	// Regions in flight at once (nested ones, and a caller that opens the
	// next region while a worker is still in a nested one) vary with the
	// scheduling: jobs made up front keep a step from allocating the first
	// time more of them overlap than before.
	for range parJobsMade * poolSize {
		jobFree.put(&parJob{fin: make(chan struct{}, 1)})
	}
	for i := 1; i < poolSize; i++ {
		go poolWorker()
	}
}

// parJobsMade is how many jobs per participant startPool makes.
const parJobsMade = 8

// poolSpin is how long an idle worker polls the queue before parking, and
// callerSpin how long a region's caller with no chunk left polls for the
// last ones before blocking on the channel. Waking a parked goroutine takes
// the Go scheduler and the OS tens of microseconds, and far more on a loaded
// machine: with the worker parking after 50 µs, the basic28x28 training step
// woke it about 40 times a step, and it joined its region 160 µs after the
// wake-up on average (6.8 ms of a core a step), while the caller's own
// wake-up after the last chunk had a tail of 50-140 µs in a tenth of the
// regions (decision #54). Both poll with runtime.Gosched between rounds, so
// other goroutines (a data loader, say) still get the core.
const (
	poolSpin   = time.Millisecond
	callerSpin = 2 * time.Millisecond
)

// spinRounds is how many polls an idle participant makes between looking
// at the clock and yielding.
const spinRounds = 64

func poolWorker() {
	for {
		var t parToken
		select {
		case t = <-poolQueue:
		default:
			deadline := time.Now().Add(poolSpin)
			for spin := 0; t.j == nil; spin++ {
				select {
				case t = <-poolQueue:
					continue
				default:
				}
				if spin%spinRounds == spinRounds-1 {
					if time.Now().After(deadline) {
						t = <-poolQueue
						continue
					}
					runtime.Gosched()
				}
			}
		}
		t.help()
	}
}

// Workers reports the number of goroutines that run a parallel region: the
// pool's workers plus the caller, runtime.GOMAXPROCS(0) as it was on first use.
func Workers() int {
	poolOnce.Do(startPool)
	return poolSize
}

func getJob() *parJob {
	j := jobFree.get()
	if j.fin == nil { // a job made here, past those startPool made
		j.fin = make(chan struct{}, 1)
	}
	return j
}

func putJob(j *parJob) {
	j.r, j.fn = nil, nil
	jobFree.put(j)
}

// work claims and runs chunks until none is left.
func (j *parJob) work(worker int) {
	for {
		c := j.next.Add(1) - 1
		if c >= j.chunks {
			return
		}
		j.r.runChunk(worker, int(c))
		if j.done.Add(1) == j.chunks {
			j.fin <- struct{}{}
		}
	}
}

// help is what a woken worker does with a token: join the region if it is
// still open.
func (t parToken) help() {
	j := t.j
	for {
		s := j.state.Load()
		if uint32(s>>32) != t.gen || s&parClosed != 0 {
			return
		}
		if j.state.CompareAndSwap(s, s+1) {
			break
		}
	}
	j.work(int(j.ids.Add(1) - 1))
	j.state.Add(^uint64(0)) // leave
}

// parallelRun runs r's chunks 0..chunks-1 on at most maxWorkers participants
// (the caller and up to maxWorkers-1 pool workers) and returns when all are
// done. Worker ids passed to r are below min(maxWorkers, Workers()).
func parallelRun(r chunkRunner, chunks, maxWorkers int) {
	if chunks <= 0 {
		return
	}
	p := Workers()
	if maxWorkers < p {
		p = maxWorkers
	}
	if p > chunks {
		p = chunks
	}
	if p <= 1 {
		for c := 0; c < chunks; c++ {
			r.runChunk(0, c)
		}
		return
	}
	j := getJob()
	j.r = r
	j.chunks = int64(chunks)
	j.next.Store(0)
	j.done.Store(0)
	j.ids.Store(1) // the caller is participant 0
	gen := uint32(j.state.Load()>>32) + 1
	j.state.Store(uint64(gen) << 32)
	for i := 1; i < p; i++ {
		select {
		case poolQueue <- parToken{j, gen}:
		default: // queue full: do without this helper
		}
	}
	j.work(0)
	j.await()
	// Close the job and wait for registered workers to leave.
	for spins := 0; ; spins++ {
		s := j.state.Load()
		if s&parClosed == 0 {
			j.state.CompareAndSwap(s, s|parClosed)
			continue
		}
		if s&(parClosed-1) == 0 {
			break
		}
		if spins > 64 {
			runtime.Gosched()
		}
	}
	putJob(j)
}

// await returns once the completer of the last chunk has signalled fin. It
// polls for callerSpin (see there) before blocking, and meanwhile, as while
// blocked, helps with any region whose wake-up it finds queued (another
// region's, or a stale one).
func (j *parJob) await() {
	deadline := time.Now().Add(callerSpin)
	for spin := 0; ; spin++ {
		select {
		case <-j.fin:
			return
		case t := <-poolQueue:
			t.help()
			continue
		default:
		}
		if spin%spinRounds == spinRounds-1 {
			if time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
		}
	}
	for {
		select {
		case <-j.fin:
			return
		case t := <-poolQueue:
			t.help()
		}
	}
}

// runChunk makes a parJob the runner of a ParallelFor region.
func (j *parJob) runChunk(_, c int) {
	lo := c * j.n / j.parts
	hi := (c + 1) * j.n / j.parts
	if lo < hi {
		j.fn(lo, hi)
	}
}

// ParallelFor splits [0, n) into parallelForParts x Workers() contiguous
// ranges (fewer when n is smaller), calls fn(lo, hi) once for each,
// concurrently on the package's persistent worker pool, and returns when
// all calls are done. The participants claim the ranges in order as they
// finish the last, so a core slowed down by other work does not leave the
// others waiting. The calling goroutine takes part; a range no idle worker
// picks up in time runs on it too, so fn must not expect the calls to be
// simultaneous (no barriers between them) nor their number. n == 1 runs
// fn(0, 1) inline; n <= 0 does nothing.
//
// ParallelFor starts no goroutine and allocates nothing in steady state. A
// closure passed as fn escapes to the heap, though, so a call whose fn is a
// closure literal capturing variables costs that closure's allocation (as
// does a method value); pass a top-level function to avoid it.
// fn may itself call ParallelFor or Sgemm.
func ParallelFor(n int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	p := Workers()
	if p > n {
		p = n
	}
	if p <= 1 {
		fn(0, n)
		return
	}
	parts := min(n, parallelForParts*p)
	j := getJob()
	j.fn, j.n, j.parts = fn, n, parts
	parallelRun(j, parts, p)
	putJob(j)
}

// parallelForParts is the number of ranges per participant of ParallelFor:
// one each left a core idle whenever the other was slowed (the machine's
// other tenants, memory traffic); a few each balance that at a cost of
// less than a microsecond a range.
const parallelForParts = 4
