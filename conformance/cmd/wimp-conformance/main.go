// Command wimp-conformance replays the recorded MS-WFIM exchanges against a running server:
//
//	go run ./conformance/cmd/wimp-conformance --endpoint http://127.0.0.1:8080 [--dir testdata/exchanges] [--run REGEXP] [-v]
//
// The server must offer the MS-WFIM control endpoint at /WorkflowControl and wimp's hosting
// contract at /WorkflowHosting (used to set instances up), with the fixture definitions of
// testdata/definitions registered (wimp-server --definitions testdata/definitions).
// It prints one line per failing scenario and a final "N passed, M failed" line; the exit
// status is 1 if any scenario failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/wimp-project/wimp/conformance"
)

func main() {
	endpoint := flag.String("endpoint", "http://127.0.0.1:8080", "base URL of the server under test")
	dir := flag.String("dir", "testdata/exchanges", "directory of scenario files")
	run := flag.String("run", "", "only scenarios whose name matches this regular expression")
	parallel := flag.Int("parallel", 8, "scenarios run at once")
	verbose := flag.Bool("v", false, "also list passing scenarios")
	timeout := flag.Duration("timeout", 10*time.Second, "per-scenario timeout")
	flag.Parse()

	re, err := regexp.Compile(*run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wimp-conformance: --run:", err)
		os.Exit(2)
	}
	scenarios, err := conformance.Load(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wimp-conformance:", err)
		os.Exit(2)
	}
	r := &conformance.Runner{Base: *endpoint, Timeout: *timeout}
	var (
		mu             sync.Mutex
		passed, failed int
		wg             sync.WaitGroup
		sem            = make(chan struct{}, max(*parallel, 1))
	)
	for _, sc := range scenarios {
		if !re.MatchString(sc.Name) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := r.Run(context.Background(), sc)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				fmt.Printf("FAIL %s: %v\n", sc.Name, err)
				return
			}
			passed++
			if *verbose {
				fmt.Printf("ok   %s\n", sc.Name)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 || passed == 0 {
		os.Exit(1)
	}
}
