package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/shard"
)

// TestShardsSplitThePractices: two managers, each given the practices labelled for it, share
// one API server and one directory. Each practice converges, by exactly one of them; labelling
// another practice for a shard makes it stop, to be restarted with the new set.
func TestShardsSplitThePractices(t *testing.T) {
	run := rand.String(5)
	key := "test.staff.rosterops.io/shard-" + run
	practices := map[string]string{"east": "east-" + run, "west": "west-" + run}
	for shardName, ns := range practices {
		labelledNamespace(t, ns, map[string]string{key: shardName})
	}
	shards := map[string]*operator{}
	for shardName, ns := range practices {
		sel := labels.SelectorFromSet(labels.Set{key: shardName})
		shards[shardName] = startOperator(t, func(o *operatorOptions) { o.namespace, o.shard = ns, sel })
	}
	for shardName, op := range shards {
		op.create(newMember("pat", op.email("pat-"+shardName)))
	}
	for shardName, op := range shards {
		op.waitMember("pat", "invited", func(m *staffv1alpha1.StaffMember) bool {
			return isReady(m) && m.Status.Phase == staffv1alpha1.StaffMemberInvited
		})
		waitMails(t, op.email("pat-"+shardName), 1)
	}
	for shardName, op := range shards {
		if got, want := op.wrote.list(), []string{practices[shardName]}; !slices.Equal(got, want) {
			t.Errorf("shard %s wrote in %v, want only its practice %v", shardName, got, want)
		}
	}

	// A third practice labelled for east: east stops to take it; west goes on.
	north := "north-" + run
	labelledNamespace(t, north, map[string]string{key: "east"})
	east := shards["east"]
	eventually(t, "shard east stopped", func() (bool, string) {
		select {
		case <-east.done:
			return true, ""
		default:
			return false, "running"
		}
	})
	if !errors.Is(east.ended, shard.ErrPracticesChanged) {
		t.Errorf("shard east ended with %v, want ErrPracticesChanged", east.ended)
	}
	select {
	case <-shards["west"].done:
		t.Error("shard west stopped, though its practices did not change")
	default:
	}
	// Restarted, east owns both of its practices.
	restarted := startOperator(t, func(o *operatorOptions) {
		o.namespace, o.shard = north, labels.SelectorFromSet(labels.Set{key: "east"})
	})
	restarted.create(newMember("kim", restarted.email("kim")))
	restarted.waitMember("kim", "invited", func(m *staffv1alpha1.StaffMember) bool { return m.Status.Phase == staffv1alpha1.StaffMemberInvited })
	if got, want := restarted.wrote.list(), []string{north}; !slices.Equal(got, want) {
		t.Errorf("the restarted shard wrote in %v, want %v: its other practice had nothing to do", got, want)
	}
}

// labelledNamespace creates a namespace with labels, as a platform team assigns a practice to a
// shard.
func labelledNamespace(t *testing.T, name string, l map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{
		staffv1alpha1.OrganizationNameAnnotation: fmt.Sprintf("Practice %s", name),
	}}}
	if err := k8s.Create(context.Background(), ns); err != nil && client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
}
