// Package metrics declares the operator's Prometheus metrics, served with controller-runtime's on
// the manager's metrics endpoint: what reaches the directory, the mail server, and how
// invitations end, counted by the reconcilers and the invitation page alike.
package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	staffv1alpha1 "github.com/rosterops/staff-operator/api/v1alpha1"
	"github.com/rosterops/staff-operator/internal/directory"
	"github.com/rosterops/staff-operator/internal/mail"
)

var (
	directoryOperations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "staff_operator_directory_operation_duration_seconds",
		Help:    "Directory operations by operation and result, with their latency.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
	}, []string{"operation", "result"})
	mailsSent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "staff_operator_mails_total",
		Help: "Mails handed to the mail server, by kind and result (sent, rejected, unavailable).",
	}, []string{"kind", "result"})
	invitationsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "staff_operator_invitations_finished_total",
		Help: "Invitations that reached an end phase (Accepted, Expired, Revoked, Failed), by phase.",
	}, []string{"phase"})
)

func init() {
	crmetrics.Registry.MustRegister(directoryOperations, mailsSent, invitationsFinished)
}

// CountFinished counts an Invitation that entered an end phase.
func CountFinished(from, to staffv1alpha1.InvitationPhase) {
	switch to {
	case from:
	case staffv1alpha1.InvitationAccepted, staffv1alpha1.InvitationExpired, staffv1alpha1.InvitationRevoked, staffv1alpha1.InvitationFailed:
		invitationsFinished.WithLabelValues(string(to)).Inc()
	}
}

// ObserveDirectoryOperation records one directory operation; give it to the directory backend as
// its observer.
func ObserveDirectoryOperation(op string, err error, d time.Duration) {
	directoryOperations.WithLabelValues(op, directoryResult(err)).Observe(d.Seconds())
}

func directoryResult(err error) string {
	switch {
	case err == nil:
		return "success"
	case errors.Is(err, directory.ErrNotFound):
		return "not_found"
	case errors.Is(err, directory.ErrConflict):
		return "conflict"
	case errors.Is(err, directory.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// CountMail counts one mail handed to the mail server, by kind and how it went.
func CountMail(kind mail.Kind, err error) {
	mailsSent.WithLabelValues(string(kind), mailResult(err)).Inc()
}

func mailResult(err error) string {
	switch {
	case err == nil:
		return "sent"
	case mail.IsPermanent(err):
		return "rejected"
	}
	return "unavailable"
}
