package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/rosterops/staff-operator/internal/shard"
)

// sharding is what --practice-selector makes of this manager: one shard of several, each
// with its practices, its own lease, its own page. Without it, the manager owns every practice.
type sharding struct {
	selector  labels.Selector // nil: every practice
	practices []string
}

// shardOf parses the selector and, when there is one, waits until at least one namespace
// matches it.
func shardOf(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, selector string) (sharding, error) {
	if selector == "" {
		return sharding{}, nil
	}
	sel, err := labels.Parse(selector)
	if err != nil {
		return sharding{}, fmt.Errorf("--practice-selector: %w", err)
	}
	c, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return sharding{}, fmt.Errorf("kubernetes client: %w", err)
	}
	practices, err := shard.WaitForPractices(ctx, c, sel)
	if err != nil {
		return sharding{}, err
	}
	ctrl.Log.WithName("setup").Info("this manager is a shard", "selector", sel.String(), "practices", practices)
	return sharding{selector: sel, practices: practices}, nil
}

// namespaces is the cache's namespace set: the shard's practices, or nil for all.
func (s sharding) namespaces() map[string]cache.Config {
	if s.selector == nil {
		return nil
	}
	return shard.CacheNamespaces(s.practices)
}

// leaderElectionID gives each shard a lease of its own, named after its selector.
func (s sharding) leaderElectionID() string {
	if s.selector == nil {
		return leaderElectionID
	}
	sum := sha256.Sum256([]byte(s.selector.String()))
	return "staff-operator-" + hex.EncodeToString(sum[:4]) + ".staff.rosterops.io"
}

// watch ends the manager when the shard's practices change, so that it restarts with them.
func (s sharding) watch(mgr ctrl.Manager) error {
	if s.selector == nil {
		return nil
	}
	if err := mgr.Add(&shard.Watcher{Cache: mgr.GetCache(), Selector: s.selector, Practices: s.practices}); err != nil {
		return fmt.Errorf("watch the shard's practices: %w", err)
	}
	return nil
}
