package ldap

import (
	"context"
	"errors"
	"fmt"
	"sync"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rosterops/staff-operator/internal/directory"
)

// Pool sizes (Config.Connections).
const (
	defaultConnections = 4
	maxConnections     = 32
)

// pooledConn is one connection of the client's pool. It is dialled on first use and dialled
// again on the next use after the server closed it, independently of the others.
type pooledConn struct {
	mu   sync.Mutex
	conn *goldap.Conn
}

// get returns the live connection, dialling with dial when there is none or the server closed
// it; fresh tells a connection this call dialled, on which a failure is not worth a resend.
func (p *pooledConn) get(dial func() (*goldap.Conn, error)) (conn *goldap.Conn, fresh bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil && !p.conn.IsClosing() {
		return p.conn, false, nil
	}
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	conn, err = dial()
	if err != nil {
		return nil, false, err
	}
	p.conn = conn
	return conn, true, nil
}

// drop forgets conn when it is still this slot's connection, so the next use dials. Another
// caller may have replaced it already; that newer connection is left alone.
func (p *pooledConn) drop(conn *goldap.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == conn {
		p.conn.Close()
		p.conn = nil
	}
}

// close closes the connection, if any; the next use dials again.
func (p *pooledConn) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil {
		return nil
	}
	err := p.conn.Close()
	p.conn = nil
	return err
}

// newPool makes n idle connections and marks all of them free for paging.
func newPool(n int) ([]pooledConn, chan int) {
	pagers := make(chan int, n)
	for i := range n {
		pagers <- i
	}
	return make([]pooledConn, n), pagers
}

// nextConn picks the connection for a plain request, round the pool: go-ldap multiplexes
// requests on each, so a busy one is no reason to look further.
func (c *Client) nextConn() *pooledConn {
	i := c.next.Add(1) % uint64(len(c.conns))
	return &c.conns[i]
}

// takePager waits for a connection that no paged search is using and reserves it for the
// caller's paged search until release. The wait ends with the context.
func (c *Client) takePager(ctx context.Context) (pc *pooledConn, release func(), err error) {
	select {
	case i := <-c.pagers:
		return &c.conns[i], func() { c.pagers <- i }, nil
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("%w: wait for a connection to page on: %w", directory.ErrUnavailable, ctx.Err())
	}
}

// closeConns closes every connection of the pool.
func (c *Client) closeConns() error {
	var errs []error
	for i := range c.conns {
		errs = append(errs, c.conns[i].close())
	}
	return errors.Join(errs...)
}
