package registries

import (
	"regexp"
	"sync"
)

// The distribution spec's grammar of registry hosts (host[:port], an
// IPv6 address in brackets), repository names and tags, compiled when
// first used: a node without registries.yaml or a mirror never pays for
// them.
var (
	hostPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$`)
	})
	repositoryPattern = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	})
	tagPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`) })
)

// ValidHost reports whether h is a registry host as image names hold it.
func ValidHost(h string) bool { return len(h) <= 253 && hostPattern().MatchString(h) }

// ValidRepository reports whether name is a repository name.
func ValidRepository(name string) bool {
	return len(name) <= 255 && repositoryPattern().MatchString(name)
}

// ValidTag reports whether t is a tag.
func ValidTag(t string) bool { return tagPattern().MatchString(t) }
