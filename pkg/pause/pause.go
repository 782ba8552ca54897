// Package pause holds edgeos's built-in pod sandbox ("pause") image, so a
// node never pulls one. The archive is generated at build time from
// cmd/pause for the target architecture (`make build` runs `go generate
// ./pkg/pause`).
package pause

import _ "embed"

//go:generate go run ./gen -o pause.tar -name edgeos.local/pause:1

// Image is the name the sandbox image is imported and pinned under.
const Image = "edgeos.local/pause:1"

// Archive is the image as an OCI archive.
//
//go:embed pause.tar
var Archive []byte
