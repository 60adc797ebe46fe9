// Package shard splits the practices among several managers, so that Kubernetes spreads the
// work of many practices over as many Deployments as it takes, like Flux's sharding. A manager
// given a practice selector (a label selector on Namespaces: a namespace is a practice) caches
// and reconciles only the namespaces that match it, with its own leader election and
// invitation page.
//
// A controller-runtime cache's namespaces are fixed when it starts, so when the set of matching
// namespaces changes, Watcher ends the manager, which its Deployment restarts with the new set.
// Moving a practice between shards without a gap is therefore: label it for the new shard too
// (both own it for a moment, which every write of the operator tolerates), then remove the
// old shard's label.
package shard

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
)

// ErrPracticesChanged ends a manager whose practices changed; it is restarted with the new set.
var ErrPracticesChanged = errors.New("the practices of this shard changed")

// Practices lists, sorted, the namespaces that selector matches.
func Practices(ctx context.Context, c client.Reader, selector labels.Selector) ([]string, error) {
	var list corev1.NamespaceList
	if err := c.List(ctx, &list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("list the namespaces of the shard %q: %w", selector, err)
	}
	return names(&list), nil
}

// names are the namespaces of list that are not being deleted, sorted.
func names(list *corev1.NamespaceList) []string {
	out := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		if ns.DeletionTimestamp.IsZero() {
			out = append(out, ns.Name)
		}
	}
	slices.Sort(out)
	return out
}

// CacheNamespaces is the cache's DefaultNamespaces for a shard's practices.
func CacheNamespaces(practices []string) map[string]cache.Config {
	m := make(map[string]cache.Config, len(practices))
	for _, ns := range practices {
		m[ns] = cache.Config{}
	}
	return m
}

// Watcher is a manager Runnable that ends the manager with ErrPracticesChanged when the
// namespaces Selector matches are no longer Practices: a practice was labelled for this shard,
// unlabelled, created or deleted. Every replica runs it, leader or not: each caches, and
// serves the page for, the practices it started with.
type Watcher struct {
	// Cache holds Namespaces cluster-wide (they are cluster-scoped).
	Cache     cache.Cache
	Selector  labels.Selector
	Practices []string
}

// NeedLeaderElection implements manager.LeaderElectionRunnable.
func (w *Watcher) NeedLeaderElection() bool { return false }

// Start waits for a change of the practices, or for ctx to end.
func (w *Watcher) Start(ctx context.Context) error {
	informer, err := w.Cache.GetInformer(ctx, &corev1.Namespace{})
	if err != nil {
		return fmt.Errorf("watch namespaces: %w", err)
	}
	events := make(chan struct{}, 1)
	notify := func() {
		select {
		case events <- struct{}{}:
		default:
		}
	}
	reg, err := informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	})
	if err != nil {
		return fmt.Errorf("watch namespaces: %w", err)
	}
	defer func() { _ = informer.RemoveEventHandler(reg) }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-events:
		}
		now, err := Practices(ctx, w.Cache, w.Selector)
		if err != nil {
			log.FromContext(ctx).Error(err, "list the practices of this shard; trying again at the next namespace event")
			continue
		}
		if !slices.Equal(now, w.Practices) {
			return fmt.Errorf("%w (selector %q): had %v, now %v; restarting to take the new set", ErrPracticesChanged, w.Selector, w.Practices, now)
		}
	}
}

// WaitForPractices returns the practices selector matches, waiting, on a watch, until there is
// at least one: a shard deployed before its first practice idles instead of caching every
// namespace (an empty namespace set means all of them to a cache).
func WaitForPractices(ctx context.Context, c client.WithWatch, selector labels.Selector) ([]string, error) {
	for {
		var list corev1.NamespaceList
		if err := c.List(ctx, &list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
			return nil, fmt.Errorf("list the namespaces of the shard %q: %w", selector, err)
		}
		if practices := names(&list); len(practices) > 0 {
			return practices, nil
		}
		log.FromContext(ctx).Info("no namespace matches the practice selector yet; waiting", "selector", selector.String())
		w, err := c.Watch(ctx, &corev1.NamespaceList{}, client.MatchingLabelsSelector{Selector: selector},
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		if err != nil {
			return nil, fmt.Errorf("watch the namespaces of the shard %q: %w", selector, err)
		}
		select {
		case <-ctx.Done():
			w.Stop()
			return nil, ctx.Err()
		case <-w.ResultChan():
			w.Stop()
		}
	}
}
