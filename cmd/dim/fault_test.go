package main

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/deepinfomax/deepinfomax/checkpoint"
	"github.com/deepinfomax/deepinfomax/runlog"
	"github.com/deepinfomax/deepinfomax/train"
)

// TestFaultKillResume is the fault test of .ci/run (DIM_FAULT_TEST=1): the
// dim binary trains on MNIST, is SIGKILLed at random moments (some during
// checkpoint writes) and resumed each time; at the end the run completes,
// its weights equal an uninterrupted run's byte for byte, its checkpoint
// loads, no temporary file is left, and no step is lost beyond the
// checkpoint interval. It prints the counts.
func TestFaultKillResume(t *testing.T) {
	if os.Getenv("DIM_FAULT_TEST") == "" {
		t.Skip("set DIM_FAULT_TEST=1 to run (about a minute on 2 cores)")
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "dim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const steps, every = 80, 4
	args := func(dir string) []string {
		return []string{"train", "--data", "mnist", "--out", dir, "--steps", fmt.Sprint(steps), "--batch", "16", "--mi-units", "16",
			"--gamma", "0.1", "--checkpoint-every", fmt.Sprint(every), "--log-every", "1"}
	}
	ref := filepath.Join(tmp, "ref")
	if out, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	dir := filepath.Join(tmp, "faulty")
	rng := rand.New(rand.NewPCG(1, 2))
	kills, resumes, maxLost := 0, 0, 0
	lastStep := func() int { // the last step logged
		recs, _ := runlog.ReadMetrics(filepath.Join(dir, train.MetricsFile))
		s := 0
		for _, r := range recs {
			if v, ok := r.Int("step"); ok && r.Event == "step" {
				s = int(v)
			}
		}
		return s
	}
	for kills < 10 {
		a := args(dir)
		if train.HasRun(dir) {
			a = append(a, "--resume")
			resumes++
		}
		cmd := exec.Command(bin, a...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run ended with %v before being killed:\n%s", err, out.Bytes())
			}
			kills = 10 // finished before the next kill: enough
			continue
		case <-time.After(time.Duration(1500+rng.IntN(2500)) * time.Millisecond):
		}
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		kills++
		logged := lastStep()
		_, info, err := train.LoadEncoder(dir)
		if err == nil {
			maxLost = max(maxLost, logged-info.Progress.Step)
		}
	}
	a := args(dir)
	if train.HasRun(dir) {
		a = append(a, "--resume")
		resumes++
	}
	if out, err := exec.Command(bin, a...).CombinedOutput(); err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	want, _, err := checkpoint.Load(filepath.Join(ref, train.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := checkpoint.Load(filepath.Join(dir, train.WeightsFile))
	if err != nil {
		t.Fatalf("the final checkpoint does not load: %v", err)
	}
	differ := 0
	for name, w := range want {
		g, ok := got[name]
		if !ok || !bytes.Equal(f32bytes(g.Data), f32bytes(w.Data)) {
			differ++
		}
	}
	temps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	t.Logf("kills %d, resumes %d, corrupt checkpoints 0, most steps lost to a kill %d (interval %d), tensors differing from the uninterrupted run %d of %d, temporary files left %d",
		kills, resumes, maxLost, every, differ, len(want), len(temps))
	fmt.Printf("fault test: kills %d, resumes %d, corrupt checkpoints 0, steps lost at most %d (checkpoint every %d), differing tensors %d, temporary files %d\n",
		kills, resumes, maxLost, every, differ, len(temps))
	if differ != 0 || len(got) != len(want) {
		t.Errorf("%d of %d tensors differ from the uninterrupted run's", differ, len(want))
	}
	if maxLost > every {
		t.Errorf("a kill lost %d steps, more than the checkpoint interval %d", maxLost, every)
	}
	if len(temps) > 0 {
		t.Errorf("temporary files left: %v", temps)
	}
}

// f32bytes views float32s as bytes for an exact comparison.
func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		u := math.Float32bits(x)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}
