package controllers

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
)

func TestQuietConflicts(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Group: "staff.rosterops.io", Resource: "invitations"}, "ana", errors.New("the object has been modified"))
	other := errors.New("directory unavailable")
	cases := []struct {
		name        string
		err         error
		wantErr     bool
		wantRequeue bool
	}{
		{name: "success", err: nil},
		{name: "a conflict is a quiet requeue", err: conflict, wantRequeue: true},
		{name: "a wrapped conflict too", err: errors.Join(nil, conflict), wantRequeue: true},
		{name: "an error with a conflict is still an error", err: errors.Join(other, conflict), wantErr: true},
		{name: "any other error stays", err: other, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := quietConflicts(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
				return reconcile.Result{}, tc.err
			}))
			res, err := r.Reconcile(context.Background(), reconcile.Request{})
			if (err != nil) != tc.wantErr || (res.RequeueAfter > 0) != tc.wantRequeue {
				t.Errorf("got %+v, %v; want error %v, requeue %v", res, err, tc.wantErr, tc.wantRequeue)
			}
		})
	}
}

// TestOffboardingGoesFirst: with a thousand members waiting to be onboarded, a deactivation is
// the next request the StaffMember reconciler gets, and so is its role's group.
func TestOffboardingGoesFirst(t *testing.T) {
	active := newMember("leaver", "leaver@example.test", "nurse")
	active.Namespace = "practice"
	deactivated := active.DeepCopy()
	deactivated.Spec.AccountState = staffv1alpha1.AccountStateDeactivated
	deleting := active.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}

	for name, h := range map[string]struct {
		handler handler.EventHandler
		want    string
	}{
		"member": {offboardingFirst(), "leaver"},
		"group":  {referencedBy(func(_ context.Context, m *staffv1alpha1.StaffMember) []string { return names(m.Spec.Roles) }), "nurse"},
	} {
		for what, cur := range map[string]*staffv1alpha1.StaffMember{"deactivation": deactivated, "deletion": deleting} {
			t.Run(name+" "+what, func(t *testing.T) {
				q := priorityqueue.New[reconcile.Request]("offboarding-" + name)
				defer q.ShutDown()
				for i := range 1000 {
					q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "practice", Name: fmt.Sprintf("newcomer-%d", i)}})
				}
				h.handler.Update(context.Background(), event.UpdateEvent{ObjectOld: active, ObjectNew: cur}, q)
				eventuallyLen(t, q, 1001)
				if got, _, _ := q.GetWithPriority(); got.Name != h.want {
					t.Errorf("the first request is %s, want %s", got.Name, h.want)
				}
			})
		}
	}
}

// eventuallyLen waits until the queue holds n requests: a priority queue takes additions in
// the background.
func eventuallyLen(t *testing.T, q priorityqueue.PriorityQueue[reconcile.Request], n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d requests queued", n), func() (bool, string) { return q.Len() == n, fmt.Sprint(q.Len()) })
}

func TestStripUnread(t *testing.T) {
	m := newMember("ana", "ana@example.test")
	m.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}}
	m.Annotations = map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"spec":{"email":"ana@example.test"}}`,
		staffv1alpha1.UnlockRequestedAtAnnotation:          "2026-11-29T10:00:00Z",
	}
	if _, err := StripUnread(m); err != nil {
		t.Fatal(err)
	}
	if m.ManagedFields != nil || len(m.Annotations) != 1 || m.Annotations[staffv1alpha1.UnlockRequestedAtAnnotation] == "" {
		t.Errorf("after the transform: managedFields %v, annotations %v", m.ManagedFields, m.Annotations)
	}
}
