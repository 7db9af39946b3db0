// Package report is what the benchmark programs under bench/ share: a CPU profile of the run,
// medians of rounds, rounding for the JSON summary, progress on stderr, the disk's fsync rate.
package report

import (
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"time"
)

// Profile starts a CPU profile of the whole run into path ("": none); call stop at the end.
func Profile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// Median is the median of f over xs (the upper one of an even count), rounded; 0 for none.
func Median[T any](xs []T, f func(T) float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	return Round(v[len(v)/2])
}

// Each is f of every x, rounded: one figure per round for the summary.
func Each[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = Round(f(x))
	}
	return out
}

// Round keeps two decimals.
func Round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Progress prints a line of human-readable progress on stderr.
func Progress(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// Percentiles sorts latencies and returns the p-th percentile (0..1) of them in milliseconds,
// to the microsecond (0 for none).
func Percentiles(latencies []time.Duration) func(p float64) float64 {
	slices.Sort(latencies)
	return func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
}

// FsyncProbe is what ProbeFsync measured of the disk.
type FsyncProbe struct{ PerSec, P50Ms float64 }

// ProbeFsync measures the disk: a 4 KiB write at the start of a file at path and an fsync,
// repeated for d.
func ProbeFsync(path string, d time.Duration) (FsyncProbe, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return FsyncProbe{}, err
	}
	defer os.Remove(path)
	defer f.Close()
	page := make([]byte, 4096)
	var lat []time.Duration
	start := time.Now()
	for time.Since(start) < d {
		t := time.Now()
		page[0]++
		if _, err := f.WriteAt(page, 0); err != nil {
			return FsyncProbe{}, err
		}
		if err := f.Sync(); err != nil {
			return FsyncProbe{}, err
		}
		lat = append(lat, time.Since(t))
	}
	slices.Sort(lat)
	return FsyncProbe{PerSec: float64(len(lat)) / time.Since(start).Seconds(),
		P50Ms: float64(lat[len(lat)/2].Microseconds()) / 1000}, nil
}
