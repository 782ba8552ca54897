package snapshot

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/sirupsen/logrus"
)

// ParseSchedule reads a cron schedule: five fields, or a descriptor such
// as @daily or @every 6h.
func ParseSchedule(spec string) (cron.Schedule, error) { return cron.ParseStandard(spec) }

// Scheduler is the component that takes scheduled snapshots and keeps
// the newest Retention of them.
type Scheduler struct {
	Server     Server
	Schedule   cron.Schedule
	Retention  int
	Credential string
}

// Name implements component.Component.
func (*Scheduler) Name() string { return "snapshots" }

// Run implements component.Component.
func (sc *Scheduler) Run(ctx context.Context, ready func()) error {
	ready()
	for {
		t := time.NewTimer(time.Until(sc.Schedule.Next(time.Now())))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case now := <-t.C:
			path, err := Save(sc.Server, Scheduled, sc.Credential, now)
			if err != nil {
				logrus.Errorf("Scheduled snapshot: %v", err)
				continue
			}
			logrus.Infof("Saved snapshot %s", path)
			gone, err := Prune(sc.Server.Snapshots, sc.Server.NodeName, sc.Retention)
			if err != nil {
				logrus.Warnf("Pruning snapshots: %v", err)
			}
			for _, g := range gone {
				logrus.Infof("Deleted snapshot %s (--snapshot-retention %d)", g, sc.Retention)
			}
		}
	}
}
