// Command storebench measures durable commits per second of the SQLite store with N concurrent
// writers, group commit against a baseline of one transaction (one fsync) per Commit call, in
// the same run on the same machine, and prints a one-line JSON summary (medians over rounds).
//
//	go run ./store/cmd/storebench -writers 64 -rounds 5 -duration 2s
//
// Each writer owns one instance and repeatedly commits an Update of it plus one tracking record
// (the shape of a persist). Every round opens a fresh database in -dir (default: a temporary
// directory, which must be on the disk you care about, since fsync cost dominates), runs the
// group-commit and baseline configurations back to back (alternating which goes first), and
// deletes it. "ratio" is group/baseline commits per second.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/wimp-project/wimp/store/internal/benchload"
	"github.com/wimp-project/wimp/store/sqlite"
)

type result struct {
	commitsPerSec float64
	meanBatch     float64
	p99           time.Duration
}

type summary struct {
	Writers          int       `json:"writers"`
	Rounds           int       `json:"rounds"`
	DurationS        float64   `json:"duration_s"`
	ImageBytes       int       `json:"image_bytes"`
	GroupCommitsPS   float64   `json:"group_commits_per_s"`
	BaseCommitsPS    float64   `json:"baseline_commits_per_s"`
	Ratio            float64   `json:"ratio"`
	GroupMeanBatch   float64   `json:"group_mean_batch"`
	GroupP99Ms       float64   `json:"group_p99_ms"`
	BaseP99Ms        float64   `json:"baseline_p99_ms"`
	GroupRoundsPS    []float64 `json:"group_rounds_per_s"`
	BaselineRoundsPS []float64 `json:"baseline_rounds_per_s"`
	GOOS             string    `json:"goos"`
	GOARCH           string    `json:"goarch"`
	CPUs             int       `json:"cpus"`
}

func main() {
	writers := flag.Int("writers", 64, "concurrent writers")
	rounds := flag.Int("rounds", 5, "rounds (each runs both configurations)")
	duration := flag.Duration("duration", 2*time.Second, "measured time per configuration per round")
	imageBytes := flag.Int("image", 1024, "bytes of execution image written by each commit")
	dir := flag.String("dir", "", "directory for the database files (default: a temporary directory)")
	flag.Parse()
	if *writers < 1 || *rounds < 1 || *duration <= 0 {
		log.Fatal("storebench: -writers, -rounds and -duration must be positive")
	}

	base := *dir
	if base == "" {
		d, err := os.MkdirTemp("", "storebench")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		base = d
	}

	var group, baseline []result
	for r := range *rounds {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, maxBatch := range order {
			path := filepath.Join(base, fmt.Sprintf("bench-%d-%d.db", r, maxBatch))
			res, err := run(path, *writers, *duration, *imageBytes, maxBatch)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(path + suffix)
			}
			if err != nil {
				log.Fatal(err)
			}
			if maxBatch == 0 {
				group = append(group, res)
			} else {
				baseline = append(baseline, res)
			}
		}
	}

	g := median(group, func(r result) float64 { return r.commitsPerSec })
	b := median(baseline, func(r result) float64 { return r.commitsPerSec })
	s := summary{
		Writers:          *writers,
		Rounds:           *rounds,
		DurationS:        duration.Seconds(),
		ImageBytes:       *imageBytes,
		GroupCommitsPS:   round1(g),
		BaseCommitsPS:    round1(b),
		Ratio:            round2(g / b),
		GroupMeanBatch:   round2(median(group, func(r result) float64 { return r.meanBatch })),
		GroupP99Ms:       round2(median(group, func(r result) float64 { return ms(r.p99) })),
		BaseP99Ms:        round2(median(baseline, func(r result) float64 { return ms(r.p99) })),
		GroupRoundsPS:    each(group),
		BaselineRoundsPS: each(baseline),
		GOOS:             runtime.GOOS,
		GOARCH:           runtime.GOARCH,
		CPUs:             runtime.NumCPU(),
	}
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
}

// run measures one configuration: maxBatch 0 is group commit, 1 is one transaction per commit.
func run(path string, writers int, d time.Duration, imageBytes, maxBatch int) (result, error) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, sqlite.WithMaxBatch(maxBatch))
	if err != nil {
		return result{}, err
	}
	defer s.Close()
	ins, err := benchload.Insert(ctx, s, writers, imageBytes)
	if err != nil {
		return result{}, err
	}
	before := s.Stats()
	m, err := benchload.Update(ctx, s, ins, d)
	if err != nil {
		return result{}, err
	}
	after := s.Stats()
	res := result{commitsPerSec: float64(m.Commits) / m.Elapsed.Seconds()}
	if batches := after.Batches - before.Batches; batches > 0 {
		res.meanBatch = float64(after.Commits-before.Commits) / float64(batches)
	}
	res.p99 = m.Percentile(99)
	return res, nil
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func each(rs []result) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = round1(r.commitsPerSec)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func round1(x float64) float64   { return float64(int64(x*10+0.5)) / 10 }
func round2(x float64) float64   { return float64(int64(x*100+0.5)) / 100 }
