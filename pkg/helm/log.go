package helm

import (
	"context"
	"log/slog"
	"slices"

	"github.com/sirupsen/logrus"
)

// logHandler passes Helm's log records to edgeos's log at debug level:
// what matters reaches the HelmChart's status and Events.
type logHandler struct{ attrs []slog.Attr }

func (h logHandler) Enabled(_ context.Context, l slog.Level) bool {
	return logrus.IsLevelEnabled(logrus.DebugLevel)
}

func (h logHandler) Handle(_ context.Context, rec slog.Record) error {
	fields := logrus.Fields{}
	for _, a := range h.attrs {
		fields[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		fields[a.Key] = a.Value.String()
		return true
	})
	logrus.WithFields(fields).Debugf("helm: %s", rec.Message)
	return nil
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h logHandler) WithGroup(string) slog.Handler { return h }
