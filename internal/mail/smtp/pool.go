package smtp

import (
	"errors"
	"net/textproto"
	"slices"
	"time"
)

// release ends a Send's use of sess after a transaction that ended with err (nil: the server
// accepted the message). It reports nothing: the outcome of the Send is decided already.
//
// The session is kept for a later Send when reuse is on, it has carried fewer than
// MaxMessagesPerConnection messages, and it is in step with the server: the transaction
// ended with 250, or with a reply (a refused recipient, a 4xx) after which RSET is answered
// 250. A session whose connection broke, timed out or was answered 421 is closed; any other
// (errNotAgain among them) is ended with QUIT, as every session was before reuse.
func (s *Sender) release(sess *session, err error) {
	keep := s.cfg.MaxIdleConnections > 0 && sess.messages < s.cfg.MaxMessagesPerConnection &&
		!errors.Is(err, errNotAgain)
	if err != nil {
		var reply *textproto.Error
		if !errors.As(err, &reply) || reply.Code == 421 {
			_ = sess.conn.Close()
			sess.unwatch()
			return
		}
		// The server answered, so the session is in step; RSET ends the transaction the
		// reply left open (a rejected RCPT TO leaves MAIL FROM standing).
		keep = keep && sess.client.Reset() == nil
	}
	if keep {
		if !sess.unwatch() {
			// The Send's context ended just now and closed the connection.
			_ = sess.conn.Close()
			return
		}
		if s.put(sess) {
			return
		}
	}
	// Still bounded by the Send's deadline on the connection.
	sess.quit()
	sess.unwatch()
}

// put keeps sess for a later Send, unless the Sender is closed or keeps enough already.
func (s *Sender) put(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.idle) >= s.cfg.MaxIdleConnections {
		return false
	}
	gen := sess.gen
	sess.idleSince = s.clock.Now()
	// The callback only starts a goroutine: a fake clock calls it under its own lock, which
	// take and Close need to stop a timer while they hold s.mu.
	sess.expiry = s.clock.AfterFunc(s.cfg.IdleTimeout, func() { go s.expire(sess, gen) })
	s.idle = append(s.idle, sess)
	return true
}

// take hands the most recently used idle session to a Send, which then owns it alone; nil
// when there is none. The most recent one is the least likely to have been dropped by the
// server, and the others age out.
func (s *Sender) take() *session {
	for {
		s.mu.Lock()
		n := len(s.idle)
		if n == 0 {
			s.mu.Unlock()
			return nil
		}
		sess := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		sess.gen++
		sess.expiry.Stop()
		// The timer may run late; the session's age decides.
		stale := s.clock.Since(sess.idleSince) >= s.cfg.IdleTimeout
		s.mu.Unlock()
		if !stale {
			return sess
		}
		s.quitIdle(sess)
	}
}

// expire ends sess if it is still idle in the spell that gen names.
func (s *Sender) expire(sess *session, gen uint64) {
	s.mu.Lock()
	i := slices.Index(s.idle, sess)
	if i < 0 || sess.gen != gen {
		s.mu.Unlock()
		return
	}
	s.idle = slices.Delete(s.idle, i, i+1)
	sess.gen++
	s.mu.Unlock()
	s.quitIdle(sess)
}

// quitIdle ends an idle session with QUIT, giving the server ConnectTimeout to answer.
func (s *Sender) quitIdle(sess *session) {
	_ = sess.conn.SetDeadline(time.Now().Add(s.cfg.ConnectTimeout))
	sess.quit()
}

// Close ends the idle sessions with QUIT and keeps no more. Sends under way finish; a Send
// after Close still works, over a session of its own that it ends with QUIT. Call it when
// the operator stops, so that the relay sees its sessions end politely.
func (s *Sender) Close() error {
	s.mu.Lock()
	s.closed = true
	idle := s.idle
	s.idle = nil
	for _, sess := range idle {
		sess.gen++
		sess.expiry.Stop()
	}
	s.mu.Unlock()
	for _, sess := range idle {
		s.quitIdle(sess)
	}
	return nil
}
