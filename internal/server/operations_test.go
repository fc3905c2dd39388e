package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/internal/operation"
	"github.com/sirocco-cloud/sirocco/internal/store"
)

// enqueueOp records an operation of kind for org ("" for provider-wide) the
// way a handler does, and returns its ID.
func enqueueOp(t *testing.T, e *env, org, kind, target string) string {
	t.Helper()
	op := &store.Operation{OrgID: org, Kind: kind, TargetKind: "test", TargetID: target}
	if err := e.store.Tx(context.Background(), func(tx *store.Tx) error { return e.ops.Enqueue(context.Background(), tx, op) }); err != nil {
		t.Fatalf("enqueue %s: %v", kind, err)
	}
	e.ops.Kick()
	return op.ID
}

// blockUntilCancelled is a runner that reports its start and then holds its
// worker until the operation is cancelled (or the server stops).
func blockUntilCancelled(started chan<- string) operation.Runner {
	return func(ctx context.Context, op *store.Operation, p operation.Progress) error {
		p(10, "holding")
		started <- op.ID
		<-ctx.Done()
		return ctx.Err()
	}
}

func TestOperations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		admin := e.providerAdmin()
		acme, owner := e.tenant("acme", store.Residency{})
		viewer := e.token(e.user("viewer@acme.test", store.RoleBinding{OrgID: acme.ID, Role: api.RoleOrgViewer}), acme.ID, api.RoleOrgViewer)
		watcher := e.token(e.user("watch@provider.test", store.RoleBinding{Role: api.RoleProviderViewer}), "", api.RoleProviderViewer)
		globex, rival := e.tenant("globex", store.Residency{})

		gateStarted, gate := make(chan string, 1), make(chan struct{})
		e.ops.Handle("test.gate", func(ctx context.Context, op *store.Operation, p operation.Progress) error {
			gateStarted <- op.ID
			select {
			case <-gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		blockStarted := make(chan string, 1)
		e.ops.Handle("test.block", blockUntilCancelled(blockStarted))
		e.ops.Handle("test.fail", func(ctx context.Context, op *store.Operation, p operation.Progress) error {
			return api.Errorf(http.StatusConflict, api.CodeNotEmpty, "the VDC still holds 2 VMs")
		})

		// Wait answers at its timeout while the operation runs, and as soon
		// as it is done otherwise.
		gated := enqueueOp(t, e, acme.ID, "test.gate", "g1")
		<-gateStarted
		var op api.Operation
		e.do("GET", "/api/v1/operations/"+gated+"/wait?timeout=100ms", viewer, nil).must(t, http.StatusOK).decode(t, &op)
		if op.State != api.OpRunning || op.ID != gated || op.Org != acme.ID || op.Kind != "test.gate" {
			t.Fatalf("wait at timeout: %+v", op)
		}
		close(gate)
		began := time.Now()
		if op := waitOp(t, e, viewer, gated); op.State != api.OpSucceeded || op.Progress != 100 || op.FinishedAt == nil {
			t.Fatalf("after release: %+v", op)
		}
		if d := time.Since(began); d > 5*time.Second {
			t.Errorf("wait took %s after the operation finished", d)
		}

		// Cancelling a running operation stops its runner.
		blocked := enqueueOp(t, e, acme.ID, "test.block", "b1")
		<-blockStarted
		if p := e.do("POST", "/api/v1/operations/"+blocked+"/cancel", viewer, nil).must(t, http.StatusForbidden).problem(t); p.Code != api.CodeForbidden {
			t.Errorf("viewer cancel: code %q", p.Code)
		}
		e.do("POST", "/api/v1/operations/"+blocked+"/cancel", watcher, nil).must(t, http.StatusForbidden)
		e.do("POST", "/api/v1/operations/"+blocked+"/cancel", rival, nil).must(t, http.StatusNotFound)
		e.do("POST", "/api/v1/operations/"+blocked+"/cancel", owner, nil).must(t, http.StatusOK).decode(t, &op)
		if op.ID != blocked || op.State == api.OpSucceeded || op.State == api.OpFailed {
			t.Fatalf("cancel answer: %+v", op)
		}
		if op := waitOp(t, e, owner, blocked); op.State != api.OpCancelled {
			t.Fatalf("cancelled operation ended %s", op.State)
		}
		if p := e.do("POST", "/api/v1/operations/"+blocked+"/cancel", owner, nil).must(t, http.StatusConflict).problem(t); p.Code != api.CodeNotCancellable {
			t.Errorf("cancel of a finished operation: code %q", p.Code)
		}

		// A runner's API error is the operation's error.
		failed := enqueueOp(t, e, acme.ID, "test.fail", "f1")
		if op := waitOp(t, e, owner, failed); op.State != api.OpFailed || op.Error == nil || op.Error.Code != api.CodeNotEmpty || op.Error.Detail == "" {
			t.Fatalf("failed operation: %+v (error %+v)", op, op.Error)
		}

		// Visibility: a tenant sees its organisations' operations only.
		rivalOp := enqueueOp(t, e, globex.ID, "test.fail", "f2")
		providerOp := enqueueOp(t, e, "", "test.fail", "f3")
		waitOp(t, e, admin, rivalOp)
		waitOp(t, e, admin, providerOp)
		for _, path := range []string{"/api/v1/operations/" + rivalOp, "/api/v1/operations/" + rivalOp + "/wait?timeout=1s", "/api/v1/operations/" + providerOp} {
			if p := e.do("GET", path, owner, nil).must(t, http.StatusNotFound).problem(t); p.Code != api.CodeNotFound {
				t.Errorf("GET %s: code %q", path, p.Code)
			}
		}
		e.do("POST", "/api/v1/operations/"+providerOp+"/cancel", owner, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/operations/"+store.NewID(), admin, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/operations/"+rivalOp, watcher, nil).must(t, http.StatusOK)

		ids := func(token, query string) []string {
			t.Helper()
			var list api.List[api.Operation]
			e.do("GET", "/api/v1/operations"+query, token, nil).must(t, http.StatusOK).decode(t, &list)
			out := make([]string, len(list.Items))
			for i, o := range list.Items {
				out[i] = o.ID
			}
			return out
		}
		lists := []struct {
			name, token, query string
			want               []string
		}{
			{"tenant", owner, "", []string{gated, blocked, failed}},
			{"viewer", viewer, "", []string{gated, blocked, failed}},
			{"other tenant", rival, "", []string{rivalOp}},
			{"provider", watcher, "", []string{gated, blocked, failed, rivalOp, providerOp}},
			{"by org", admin, "?org=globex", []string{rivalOp}},
			{"by state", owner, "?state=cancelled", []string{blocked}},
			{"by kind", admin, "?kind=test.fail", []string{failed, rivalOp, providerOp}},
			{"by target", owner, "?target=g1", []string{gated}},
			{"page", owner, "?limit=1&state=succeeded", []string{gated}},
		}
		for _, tt := range lists {
			t.Run("list "+tt.name, func(t *testing.T) {
				got := ids(tt.token, tt.query)
				if len(got) != len(tt.want) {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("got %v, want %v", got, tt.want)
					}
				}
			})
		}
		e.do("GET", "/api/v1/operations?org=globex", owner, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/operations?state=sleeping", owner, nil).must(t, http.StatusUnprocessableEntity)
		if p := e.do("GET", "/api/v1/operations/"+gated+"/wait?timeout=soon", owner, nil).must(t, http.StatusBadRequest).problem(t); p.Code != api.CodeInvalidRequest {
			t.Errorf("bad timeout: code %q", p.Code)
		}
		e.do("GET", "/api/v1/operations", "", nil).must(t, http.StatusUnauthorized)
	})
}

func TestOperationCancelQueued(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *env) {
		acme, owner := e.tenant("acme", store.Residency{})
		// Occupy every worker (more blockers than workers), so that an
		// operation enqueued after them stays queued. Workers claim the
		// oldest first and the blockers only end when the server stops.
		started := make(chan string, 16)
		e.ops.Handle("test.block", blockUntilCancelled(started))
		for range 8 {
			enqueueOp(t, e, acme.ID, "test.block", "hold")
		}
		<-started
		queued := enqueueOp(t, e, acme.ID, "test.block", "target")

		var op api.Operation
		e.do("GET", "/api/v1/operations/"+queued, owner, nil).must(t, http.StatusOK).decode(t, &op)
		if op.State != api.OpQueued {
			t.Fatalf("state %s, want queued", op.State)
		}
		e.do("POST", "/api/v1/operations/"+queued+"/cancel", owner, nil).must(t, http.StatusOK).decode(t, &op)
		if op.State != api.OpCancelled || op.FinishedAt == nil {
			t.Fatalf("cancel of a queued operation: %+v", op)
		}
		e.do("POST", "/api/v1/operations/"+queued+"/cancel", owner, nil).must(t, http.StatusConflict)
	})
}
