// Package benchkit holds what the Go benchmarks under bench/ share: building
// a helper program, writing a file, reading a load tool's one line of
// figures, $BENCH_ROUNDS, and a netperf pod.
package benchkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/tests/images"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Build compiles the package pkg (relative to the benchmark's directory)
// into a temporary directory and returns the binary's path.
func Build(b testing.TB, pkg string) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), filepath.Base(pkg))
	if o, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", pkg, err, o)
	}
	return out
}

// Write writes content to path.
func Write(b testing.TB, path, content string) {
	b.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.Fatal(err)
	}
}

// Fields reads a load tool's "key value key value …" line of n figures.
func Fields(b testing.TB, tool, stdout, stderr string, n int) map[string]float64 {
	b.Helper()
	f := strings.Fields(stdout)
	if len(f) != 2*n {
		b.Fatalf("%s: %q %q", tool, stdout, stderr)
	}
	out := map[string]float64{}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			b.Fatalf("%s: %q", tool, stdout)
		}
		out[f[i]] = v
	}
	return out
}

// Rounds is $BENCH_ROUNDS, a positive count; def when it is unset.
func Rounds(b testing.TB, def int) int {
	s := os.Getenv("BENCH_ROUNDS")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("BENCH_ROUNDS %q", s)
	}
	return n
}

// Median is the middle of d (the upper one of an even count).
func Median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// Seconds lists d in seconds, two decimals, comma-separated.
func Seconds(d []time.Duration) string {
	parts := make([]string, len(d))
	for i, x := range d {
		parts[i] = fmt.Sprintf("%.2f", x.Seconds())
	}
	return strings.Join(parts, ", ")
}

// NetperfPod runs `/netperf args…` (tests/images/netperf) in a pod of the
// default namespace on the node, and returns the pod's IP once it runs.
func NetperfPod(b testing.TB, cs kubernetes.Interface, name, node string, args ...string) string {
	b.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{"kubernetes.io/hostname": node},
			Containers: []corev1.Container{{
				Name: "netperf", Image: images.Name("netperf"), ImagePullPolicy: corev1.PullNever,
				Command: append([]string{"/netperf"}, args...),
			}},
		},
	}
	if _, err := cs.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		p, err := cs.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
			return p.Status.PodIP
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Fatalf("pod %s not Running", name)
	return ""
}
