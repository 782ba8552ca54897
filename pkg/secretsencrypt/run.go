package secretsencrypt

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgeos/edgeos/pkg/atomicfile"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// FileName is the configuration's file in the server's credentials dir.
const FileName = "encryption-config.json"

// Load reads the configuration at path.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, errNoFile
	}
	if err != nil {
		return Config{}, err
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Ensure writes the configuration of a server that has none: encryption on
// with a new key, or off if enabled is false. It reports whether it wrote.
func Ensure(path string, enabled bool) (bool, error) {
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	c := Config{}
	if enabled {
		k, err := c.NewKey(time.Now())
		if err != nil {
			return false, err
		}
		c = Config{Enabled: true, Keys: []Key{k}}
	}
	return true, atomicfile.Write(path, c.Render(), 0o600)
}

// Hash is how the apiserver names a configuration file's content in its
// apiserver_encryption_config_controller_last_config_info metric.
func Hash(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// Env is where a change runs: the server's file and an admin client.
type Env struct {
	File   string
	Client kubernetes.Interface
	// Progress receives a line per step and on the way through Secrets.
	Progress func(format string, args ...any)
}

// Run plans a change from the current configuration and carries out its
// steps: write the file, wait until the apiserver uses it, write every
// Secret again where the step says so. One change runs at a time (a lock
// beside the file); a change cut short is planned from where it stands.
func Run(ctx context.Context, env Env, plan func(Config) ([]Step, error)) error {
	unlock, err := lock(env.File)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := Load(env.File)
	if err != nil {
		return err
	}
	steps, err := plan(c)
	if err != nil {
		return err
	}
	for i, st := range steps {
		env.Progress("[%d/%d] %s", i+1, len(steps), st.What)
		b := st.Config.Render()
		if err := atomicfile.Write(env.File, b, 0o600); err != nil {
			return err
		}
		if err := WaitLoaded(ctx, env.Client, Hash(b)); err != nil {
			return err
		}
		if st.Reencrypt {
			start := time.Now()
			n, err := Reencrypt(ctx, env.Client, env.Progress)
			if err != nil {
				return err
			}
			took := time.Since(start)
			env.Progress("wrote %d Secrets again in %s (%.0f/s)", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
		}
	}
	return nil
}

// lock holds an exclusive lock beside path until unlock.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, errors.New("another 'edgeos secrets-encrypt' is running")
	}
	return func() { f.Close() }, nil
}

// loadTimeout bounds the wait for the apiserver to read a new file: it
// looks every few seconds (controlplane sets how often).
const loadTimeout = 3 * time.Minute

// WaitLoaded waits until the apiserver reports that it uses the
// configuration whose Hash is hash.
func WaitLoaded(ctx context.Context, cs kubernetes.Interface, hash string) error {
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	for {
		ok, err := Loaded(ctx, cs, hash)
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = errors.New("it still reports an older file")
			}
			return fmt.Errorf("the apiserver did not take up the new encryption configuration within %s (is the edgeos server running?): %w", loadTimeout, err)
		case <-time.After(time.Second):
		}
	}
}

// Loaded reports whether the apiserver uses the configuration with hash.
func Loaded(ctx context.Context, cs kubernetes.Interface, hash string) (bool, error) {
	b, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "apiserver_encryption_config_controller_last_config_info{") && strings.Contains(line, `hash="`+hash+`"`) {
			return true, nil
		}
	}
	return false, nil
}

// Reencrypt writes every Secret again, unchanged, so that the apiserver
// stores it as its configuration now says. A Secret changed or deleted
// meanwhile was written (or removed) under the new configuration already.
func Reencrypt(ctx context.Context, cs kubernetes.Interface, progress func(string, ...any)) (int, error) {
	const workers, page = 8, 500
	var (
		done  atomic.Int64
		wg    sync.WaitGroup
		first error
		once  sync.Once
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan corev1.Secret)
	for range workers {
		wg.Go(func() {
			for s := range work {
				_, err := cs.CoreV1().Secrets(s.Namespace).Update(ctx, &s, metav1.UpdateOptions{})
				if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					once.Do(func() { first = fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err); cancel() })
					continue
				}
				if n := done.Add(1); n%1000 == 0 {
					progress("... %d Secrets", n)
				}
			}
		})
	}
	var listErr error
	opts := metav1.ListOptions{Limit: page}
	for {
		l, err := cs.CoreV1().Secrets("").List(ctx, opts)
		if err != nil {
			listErr = err
			break
		}
		for _, s := range l.Items {
			select {
			case work <- s:
			case <-ctx.Done():
			}
		}
		if l.Continue == "" || ctx.Err() != nil {
			break
		}
		opts.Continue = l.Continue
	}
	close(work)
	wg.Wait()
	if first != nil {
		return int(done.Load()), first
	}
	return int(done.Load()), listErr
}
