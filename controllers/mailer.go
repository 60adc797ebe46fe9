package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	"github.com/rosterops/staff-operator/internal/mail"
	"github.com/rosterops/staff-operator/internal/metrics"
)

// Mailer renders and sends the operator's mails. The Invitation reconciler mails links; the
// StaffMember reconciler mails notices to a member's previous address.
type Mailer struct {
	Sender    mail.Sender
	Templates *mail.Templates
	From      mail.Address
	// Contact is whom notices tell their reader to turn to; empty names the practice's
	// administrator.
	Contact string
}

// send renders one mail and sends it with a Message-ID made of the object's UID and the
// attempt, so that a mail sent again after a restart is the same message. Every mail is counted
// by kind and result.
func (ml Mailer) send(ctx context.Context, kind mail.Kind, d mail.Data, uid types.UID, attempt int64) error {
	msg, err := ml.Templates.Render(kind, d)
	if err == nil {
		msg.From = ml.From
		msg.SetMessageID(string(uid), attempt)
		err = ml.Sender.Send(ctx, msg)
	}
	metrics.CountMail(kind, err)
	return err
}
