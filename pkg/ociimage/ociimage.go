// Package ociimage writes single-layer OCI image archives from a handful of
// files, with no base image and no registry: how edgeos packs its built-in
// images and the tests pack theirs. The archive is an OCI image layout in a
// tar with a docker-compatible manifest.json beside it, so `ctr import`,
// containerd's importer and `docker load` all read it. Output is
// reproducible: the same input gives the same bytes.
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// File is one file of the image.
type File struct {
	// Path inside the image, absolute: "/echo".
	Path string
	Mode int64
	Data []byte
}

// Image describes what to pack.
type Image struct {
	// Name is the full reference the image is imported as: "edgeos.test/echo:1".
	Name       string
	Arch       string
	Files      []File
	Entrypoint []string
	Env        []string
}

// epoch stamps every file and the config, for reproducible output.
var epoch = time.Unix(0, 0).UTC()

// Write writes img as an image archive to w.
func Write(w io.Writer, img Image) error {
	if img.Name == "" || img.Arch == "" || len(img.Files) == 0 {
		return fmt.Errorf("image needs a name, an architecture and files")
	}
	layer, diffID, err := layerTarGz(img.Files)
	if err != nil {
		return err
	}
	cfg, err := json.Marshal(ocispec.Image{
		Created:  &epoch,
		Platform: ocispec.Platform{Architecture: img.Arch, OS: "linux"},
		Config:   ocispec.ImageConfig{Entrypoint: img.Entrypoint, Env: img.Env},
		RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	if err != nil {
		return err
	}
	layerDesc := descriptor(ocispec.MediaTypeImageLayerGzip, layer)
	cfgDesc := descriptor(ocispec.MediaTypeImageConfig, cfg)
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    cfgDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	manDesc := descriptor(ocispec.MediaTypeImageManifest, manifest)
	manDesc.Platform = &ocispec.Platform{Architecture: img.Arch, OS: "linux"}
	manDesc.Annotations = map[string]string{
		"io.containerd.image.name": img.Name,
		ocispec.AnnotationRefName:  tagOf(img.Name),
	}
	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manDesc},
	})
	if err != nil {
		return err
	}
	dockerManifest, err := json.Marshal([]map[string]any{{
		"Config":   blobPath(cfgDesc.Digest),
		"RepoTags": []string{img.Name},
		"Layers":   []string{blobPath(layerDesc.Digest)},
	}})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	for _, e := range []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, []byte(`{"imageLayoutVersion":"` + ocispec.ImageLayoutVersion + `"}`)},
		{"index.json", index},
		{"manifest.json", dockerManifest},
		{blobPath(manDesc.Digest), manifest},
		{blobPath(cfgDesc.Digest), cfg},
		{blobPath(layerDesc.Digest), layer},
	} {
		if err := writeEntry(tw, e.name, 0o644, e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// layerTarGz packs the files, with their parent directories, into a gzipped
// tar; it also returns the digest of the uncompressed tar (the diff ID).
func layerTarGz(files []File) ([]byte, digest.Digest, error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := map[string]bool{}
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for _, f := range sorted {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return nil, "", fmt.Errorf("image file path %q must be absolute and clean", f.Path)
		}
		rel := strings.TrimPrefix(f.Path, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
				return nil, "", err
			}
		}
		if err := writeEntry(tw, rel, f.Mode, f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID := digest.FromBytes(raw.Bytes())
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.ModTime = epoch
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

func writeEntry(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}

func descriptor(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(data))), Size: int64(len(data))}
}

func blobPath(d digest.Digest) string { return "blobs/" + d.Algorithm().String() + "/" + d.Encoded() }

// tagOf is the tag of a reference, "latest" when it has none.
func tagOf(ref string) string {
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		return ref[colon+1:]
	}
	return "latest"
}
