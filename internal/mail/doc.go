// Package mail is the operator's outgoing mail layer: the message kinds it sends, their
// templates, and the Sender interface the controllers call.
//
// The path a controller takes for one send attempt is deliberately short:
//
//	msg, err := templates.Render(mail.Invitation, mail.Data{...})   // ErrInvalid on bad input
//	msg.From = from                                                 // from the operator config
//	msg.SetMessageID(string(inv.UID), attempt)                      // same attempt, same ID
//	err = sender.Send(ctx, msg)
//	switch {
//	case err == nil:             // the server accepted the message (250 after DATA)
//	case mail.IsPermanent(err):  // ErrRejected, ErrConfig or ErrInvalid: fail, show err.Error()
//	default:                     // ErrUnavailable: retry with backoff, same Message-ID
//	}
//
// Send never sends a message twice by itself: retrying is the controller's decision, so that
// the send record in the object's status stays the single source of truth. (The SMTP sender
// reconnects once when a kept session turns out closed before its MAIL FROM was accepted;
// nothing of the message had left then.)
package mail
