package kernels

import "sync/atomic"

// flopCount accumulates the floating-point operations of every Sgemm call
// (2*m*n*k each) and Conv2d call (those of its products) for throughput
// reports.
var flopCount atomic.Int64

// Flops returns the number of floating-point operations performed by Sgemm
// and Conv2d since the program started. Differences of two readings measure a span of
// work; the counter is cheap (one atomic add per product).
func Flops() int64 { return flopCount.Load() }
