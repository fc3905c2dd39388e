// Package store keeps Sirocco's state in SQL: embedded SQLite by default,
// PostgreSQL for scale-out and several control-plane replicas. All queries are
// one portable dialect ($n placeholders, RETURNING, ON CONFLICT); only the
// migrations differ per engine.
//
// Rows defined here never go on the wire: the server converts them to api
// types.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names the SQL engine behind a Store.
type Dialect string

// The supported engines.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Errors callers match with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict is a uniqueness or reference violation.
	ErrConflict = errors.New("conflict")
	// ErrVersionMismatch is an update whose expected version is stale.
	ErrVersionMismatch = errors.New("version mismatch")
)

//go:embed migrations
var migrations embed.FS

// Store is a handle on the database. It is safe for concurrent use.
type Store struct {
	dialect Dialect
	// write serialises writers. On SQLite it holds one connection, so writers
	// queue in Go instead of failing with SQLITE_BUSY; on PostgreSQL it is the
	// same pool as read.
	write *sql.DB
	read  *sql.DB
	now   func() time.Time

	// stmts caches prepared statements by pool and SQL text (SQLite only;
	// pgx caches them itself). Parsing a statement costs SQLite more than
	// running most of ours.
	stmts sync.Map // stmtKey -> *sql.Stmt, or preparing{}
	nstmt atomic.Int32
}

type stmtKey struct {
	db    *sql.DB
	query string
}

// preparing marks a statement being prepared in the background.
type preparing struct{}

// maxStmts bounds the statement cache: queries built from optional filters
// have many shapes; the common ones fill the cache first.
const maxStmts = 512

// stmt returns a cached prepared statement for query on db, or nil when
// statements are not cached for this engine, the cache is full, or the
// statement is not prepared yet. Preparing happens in the background: the
// caller may hold the pool's only connection (the SQLite writer) inside its
// transaction, so preparing in line would wait for itself.
func (s *Store) stmt(db *sql.DB, query string) *sql.Stmt {
	if s.dialect != SQLite {
		return nil
	}
	k := stmtKey{db, query}
	if v, ok := s.stmts.Load(k); ok {
		st, _ := v.(*sql.Stmt)
		return st
	}
	if s.nstmt.Load() >= maxStmts {
		return nil
	}
	if _, loaded := s.stmts.LoadOrStore(k, preparing{}); loaded {
		return nil
	}
	s.nstmt.Add(1)
	go func() {
		st, err := db.PrepareContext(context.Background(), query)
		if err != nil {
			return // stays "preparing": the query keeps running unprepared
		}
		s.stmts.Store(k, st)
	}()
	return nil
}

// Options tune Open.
type Options struct {
	// Now is the clock used for timestamps the store writes itself. Default time.Now.
	Now func() time.Time
	// MaxOpenConns caps PostgreSQL connections. Default 20.
	MaxOpenConns int
}

// Open connects to dsn and applies pending migrations. A dsn starting with
// postgres:// or postgresql:// selects PostgreSQL; anything else is a path to
// an SQLite file (created if missing).
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 20
	}
	s := &Store{now: opts.Now}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(opts.MaxOpenConns)
		db.SetMaxIdleConns(opts.MaxOpenConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s.dialect, s.write, s.read = Postgres, db, db
	} else {
		if err := os.MkdirAll(filepath.Dir(dsn), 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		// synchronous(FULL): a commit is on disk before the API answers, so
		// even a power cut (not only a killed process) loses no
		// acknowledged write. The fsync per commit costs little in WAL mode.
		pragmas := "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
		w, err := sql.Open("sqlite", "file:"+dsn+"?"+pragmas+"&_txlock=immediate")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		r, err := sql.Open("sqlite", "file:"+dsn+"?"+pragmas+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		r.SetMaxOpenConns(8)
		s.dialect, s.write, s.read = SQLite, w, r
	}
	if err := s.write.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("connect to %s: %w", s.dialect, redact(dsn, err))
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// redact drops a password from errors that quote the DSN.
func redact(dsn string, err error) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	if s.dialect == Postgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
	}
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(dialect, s.write, sub)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", s.dialect, err)
	}
	return nil
}

// Dialect reports the engine.
func (s *Store) Dialect() Dialect { return s.dialect }

// Ping checks the database answers; /readyz uses it.
func (s *Store) Ping(ctx context.Context) error { return s.read.PingContext(ctx) }

// Close releases the connections.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		if st, ok := v.(*sql.Stmt); ok {
			st.Close()
		}
		return true
	})
	err := s.write.Close()
	if s.read != s.write {
		err = errors.Join(err, s.read.Close())
	}
	return err
}

// Tx runs fn in a read-write transaction and commits when fn returns nil.
// On PostgreSQL the transaction is SERIALIZABLE and retried on serialization
// failures, so fn must be safe to run more than once; on SQLite writers are
// serialised, which gives the same guarantee.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	opts := &sql.TxOptions{}
	if s.dialect == Postgres {
		opts.Isolation = sql.LevelSerializable
	}
	const attempts = 10
	for i := 0; ; i++ {
		err := s.runTx(ctx, s.write, opts, fn)
		if err == nil || i == attempts-1 || !retryable(err) {
			return err
		}
		backoff := time.Duration(1+rand.IntN(5<<i)) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// View runs fn in a read-only transaction: a consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(tx *Tx) error) error {
	return s.runTx(ctx, s.read, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) runTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, dialect: s.dialect, now: s.now, store: s, db: db}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// Tx is one transaction. Its methods are the store's queries.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	now     func() time.Time
	store   *Store
	db      *sql.DB // the pool tx came from, for the statement cache
}

// Now is the store's clock, for timestamps written in this transaction.
func (tx *Tx) Now() time.Time { return tx.now().UTC() }

func (tx *Tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.store.stmt(tx.db, query); st != nil {
		res, err := tx.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		return res, mapErr(err)
	}
	res, err := tx.tx.ExecContext(ctx, query, args...)
	return res, mapErr(err)
}

func (tx *Tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.store.stmt(tx.db, query); st != nil {
		rows, err := tx.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
		return rows, mapErr(err)
	}
	rows, err := tx.tx.QueryContext(ctx, query, args...)
	return rows, mapErr(err)
}

func (tx *Tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.store.stmt(tx.db, query); st != nil {
		return tx.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// mapErr turns engine-specific constraint errors into ErrConflict and a
// missing row into ErrNotFound, keeping the original error in the chain.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "23") {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) && liteErr.Code()&0xff == 19 { // SQLITE_CONSTRAINT
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// expectOne turns "no row affected" into ErrNotFound.
func expectOne(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
