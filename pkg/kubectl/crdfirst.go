package kubectl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/crd"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// Upstream kubectl maps every object of an apply before it creates any, so
// a custom object fails when its CustomResourceDefinition is created by the
// same apply ("ensure CRDs are installed first"). edgeos kubectl orders such
// an apply the way Helm does: when the input defines CRDs and also objects of
// their groups, the CRDs are applied first, edgeos waits until the API serves
// them, and then the whole input is applied as usual.

// nestedEnv marks the kubectl runs made by the CRD-first pass.
const nestedEnv = "EDGEOS_KUBECTL_NESTED"

// applyCRDsFirst runs the CRD pass when args are an apply that needs one.
func applyCRDsFirst(args []string) error {
	if len(args) == 0 || args[0] != "apply" || os.Getenv(nestedEnv) != "" {
		return nil
	}
	files, others, ok := splitFilenames(args[1:])
	if !ok || len(files) == 0 {
		return nil
	}
	crds, err := crdsUsedByInput(files)
	if err != nil || len(crds) == 0 {
		return nil // kubectl itself reports unreadable input
	}
	tmp, err := os.CreateTemp("", "edgeos-crds-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	names := make([]string, 0, len(crds))
	for _, c := range crds {
		fmt.Fprintf(tmp, "---\n%s\n", c.doc)
		names = append(names, c.name)
	}
	tmp.Close()

	self, err := os.Executable()
	if err != nil {
		return err
	}
	pass := exec.Command(self, append([]string{"kubectl", "apply", "-f", tmp.Name()}, others...)...)
	pass.Env = append(os.Environ(), nestedEnv+"=1")
	pass.Stdout, pass.Stderr = os.Stdout, os.Stderr
	if err := pass.Run(); err != nil {
		return fmt.Errorf("applying the CustomResourceDefinitions first: %w", err)
	}
	return waitEstablished(others, names)
}

// splitFilenames takes the -f/--filename values out of apply's arguments.
// ok is false for input the CRD pass cannot read twice (stdin, URLs,
// kustomize).
func splitFilenames(args []string) (files, others []string, ok bool) {
	recursive := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		var v string
		switch {
		case a == "-f" || a == "--filename":
			if i+1 >= len(args) {
				return nil, nil, false
			}
			i++
			v = args[i]
		case strings.HasPrefix(a, "--filename="):
			v = strings.TrimPrefix(a, "--filename=")
		case strings.HasPrefix(a, "-f") && len(a) > 2:
			v = strings.TrimPrefix(strings.TrimPrefix(a, "-f"), "=")
		case a == "-k" || strings.HasPrefix(a, "--kustomize"):
			return nil, nil, false
		case a == "-R" || a == "--recursive" || a == "--recursive=true":
			recursive = true
			others = append(others, a)
			continue
		default:
			others = append(others, a)
			continue
		}
		if v == "-" || strings.Contains(v, "://") {
			return nil, nil, false
		}
		expanded, err := expand(v, recursive)
		if err != nil {
			return nil, nil, false
		}
		files = append(files, expanded...)
	}
	return files, others, true
}

// expand lists the manifest files of a path the way kubectl reads them.
func expand(path string, recursive bool) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var out []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != path && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(p) {
		case ".yaml", ".yml", ".json":
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

type crdDoc struct {
	name string
	doc  []byte
}

// crdsUsedByInput returns the CRDs defined in files whose group is also
// used by another object of the input.
func crdsUsedByInput(files []string) ([]crdDoc, error) {
	var crds []crdDoc
	groups := map[string]bool{}
	crdGroups := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r := utilyaml.NewYAMLReader(bufioReader(b))
		for {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
			var u unstructured.Unstructured
			if err := yaml.Unmarshal(doc, &u.Object); err != nil || u.Object == nil {
				continue
			}
			gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
			if u.GetKind() == "CustomResourceDefinition" && gv.Group == crd.GVR.Group {
				group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
				crds = append(crds, crdDoc{name: u.GetName(), doc: bytes.TrimSpace(doc)})
				crdGroups[u.GetName()] = group
				continue
			}
			groups[gv.Group] = true
		}
	}
	var used []crdDoc
	for _, c := range crds {
		if groups[crdGroups[c.name]] {
			used = append(used, c)
		}
	}
	return used, nil
}

// waitEstablished waits until the API serves every named CRD, connecting
// the way kubectl would with the same flags.
func waitEstablished(flags []string, names []string) error {
	cf := genericclioptions.NewConfigFlags(false)
	fs := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	fs.ParseErrorsAllowlist.UnknownFlags = true
	fs.SetOutput(io.Discard)
	cf.AddFlags(fs)
	_ = fs.Parse(flags)
	rc, err := cf.ToRESTConfig()
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := crd.Wait(ctx, dyn, names, 200*time.Millisecond); err != nil {
		return fmt.Errorf("not established after a minute: %w", err)
	}
	return nil
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
