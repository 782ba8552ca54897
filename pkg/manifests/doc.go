// Package manifests is edgeos's auto-deploy directory: the server applies
// every manifest file dropped into it, at start and whenever the file
// changes, and deletes what a file applied once the file, or one of its
// documents, is gone.
//
// Each file has a Manifest record (deploy.edgeos.io/v1, cluster-scoped) in
// the API: its state for kubectl, and the list of objects it applied, which
// is what makes a removal delete exactly those objects across restarts.
//
// What to do is planned by pure functions (Parse, Order, Stale) kept apart
// from the controller that reads the directory and writes to the API.
package manifests
