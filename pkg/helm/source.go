package helm

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli"
	"helm.sh/helm/v4/pkg/registry"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// StaticPrefix is how a HelmChart names a chart the server keeps in its
// static directory, as on k3s: the placeholder stands for the server.
const StaticPrefix = "https://%{KUBERNETES_API}%/static/"

// maxChart bounds a chart archive: far above real charts, far below what
// would strain a small server.
const maxChart = 20 << 20

// sources finds chart archives.
type sources struct {
	// static is the directory StaticPrefix names
	static string
	// work holds Helm's repository cache and a CA file while in use
	work string
	cs   kubernetes.Interface
}

// fetch returns the archive of a HelmChart's chart: from chartContent,
// from the static directory, or, when the box is online, from a
// repository, a URL or an OCI registry.
func (s sources) fetch(ctx context.Context, namespace string, spec Spec) ([]byte, error) {
	switch {
	case spec.ChartContent != "":
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(spec.ChartContent))
		if err != nil {
			return nil, fmt.Errorf("chartContent is not base64: %v", err)
		}
		return b, nil
	case strings.HasPrefix(spec.Chart, StaticPrefix):
		return s.staticChart(strings.TrimPrefix(spec.Chart, StaticPrefix))
	case spec.Chart == "":
		return nil, errors.New("neither chart nor chartContent is set")
	}
	return s.download(ctx, namespace, spec)
}

// staticChart reads a file below the static directory; the path cannot
// leave it.
func (s sources) staticChart(rel string) ([]byte, error) {
	clean := filepath.Clean("/" + rel)
	if clean == "/" || clean != "/"+rel {
		return nil, fmt.Errorf("%s%s is not a file of the server's static directory", StaticPrefix, rel)
	}
	f, err := os.Open(filepath.Join(s.static, clean))
	if err != nil {
		return nil, fmt.Errorf("%s%s: %v (charts go in %s)", StaticPrefix, rel, err, s.static)
	}
	defer f.Close()
	return readBounded(f)
}

func readBounded(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxChart+1))
	if err == nil && len(b) > maxChart {
		err = fmt.Errorf("the chart archive is larger than %d MiB", maxChart>>20)
	}
	return b, err
}

// download gets a chart the way `helm install --repo … --version …` would,
// with the HelmChart's CA and credentials. A name that is a path on the
// server is refused: a HelmChart must not read the server's files.
func (s sources) download(ctx context.Context, namespace string, spec Spec) ([]byte, error) {
	name := strings.TrimSpace(spec.Chart)
	online := registry.IsOCI(name) || strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "http://")
	if !online && (spec.Repo == "" || strings.HasPrefix(name, "/") || strings.HasPrefix(name, ".")) {
		return nil, fmt.Errorf("chart %q: give a chart name with repo, a URL, an oci:// reference or chartContent", name)
	}
	settings := cli.New()
	settings.RepositoryCache = filepath.Join(s.work, "repository")
	settings.RepositoryConfig = filepath.Join(s.work, "repositories.yaml")
	settings.RegistryConfig = filepath.Join(s.work, "registry.json")
	settings.ContentCache = filepath.Join(s.work, "content")
	opts := action.NewInstall(action.NewConfiguration())
	opts.RepoURL, opts.Version = spec.Repo, spec.Version
	opts.InsecureSkipTLSVerify, opts.PlainHTTP, opts.PassCredentialsAll = spec.InsecureSkipTLSVerify, spec.PlainHTTP, spec.AuthPassCredentials
	if spec.AuthSecret != nil {
		sec, err := s.cs.CoreV1().Secrets(namespace).Get(ctx, spec.AuthSecret.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("authSecret: %v", err)
		}
		opts.Username, opts.Password = string(sec.Data[corev1.BasicAuthUsernameKey]), string(sec.Data[corev1.BasicAuthPasswordKey])
	}
	ca, err := s.repoCA(ctx, namespace, spec)
	if err != nil {
		return nil, err
	}
	if len(ca) > 0 {
		f, err := os.CreateTemp(s.work, "ca-*.pem")
		if err != nil {
			return nil, err
		}
		defer os.Remove(f.Name())
		_, err = f.Write(ca)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		opts.CaFile = f.Name()
	}
	regOpts := []registry.ClientOption{registry.ClientOptCredentialsFile(settings.RegistryConfig), registry.ClientOptWriter(io.Discard)}
	if spec.PlainHTTP {
		regOpts = append(regOpts, registry.ClientOptPlainHTTP())
	}
	if opts.Username != "" {
		regOpts = append(regOpts, registry.ClientOptBasicAuth(opts.Username, opts.Password))
	}
	rc, err := registry.NewClient(regOpts...)
	if err != nil {
		return nil, err
	}
	opts.SetRegistryClient(rc)
	if err := os.MkdirAll(s.work, 0o700); err != nil {
		return nil, err
	}
	path, err := opts.LocateChart(name, settings)
	if err != nil {
		return nil, fmt.Errorf("chart %q: %v", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readBounded(f)
}

// repoCA is the CA to trust for the repository: spec.repoCA and the
// values of spec.repoCAConfigMap.
func (s sources) repoCA(ctx context.Context, namespace string, spec Spec) ([]byte, error) {
	ca := []byte(spec.RepoCA)
	if spec.RepoCAConfigMap != nil {
		cm, err := s.cs.CoreV1().ConfigMaps(namespace).Get(ctx, spec.RepoCAConfigMap.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("repoCAConfigMap: %v", err)
		}
		for _, v := range cm.Data {
			ca = append(append(ca, '\n'), v...)
		}
	}
	return bytes.TrimSpace(ca), nil
}

// load reads a chart archive.
func load(archive []byte) (*chartv2.Chart, error) {
	ch, err := loader.LoadArchive(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("the chart archive: %v", err)
	}
	return ch, nil
}
