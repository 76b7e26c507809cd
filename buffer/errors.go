package buffer

import "errors"

// Errors returned by the store. Their text doubles as a stable name in logs.
var (
	// ErrClosed is returned by every call on a closed Store.
	ErrClosed = errors.New("buffer closed")
	// ErrLocked means another process holds the buffer file; the file is
	// not damaged and is left alone.
	ErrLocked = errors.New("buffer file locked by another process")
	// ErrDamaged wraps every reason a buffer file is considered unusable.
	ErrDamaged = errors.New("buffer file damaged")
	// ErrBadQueue is returned for an empty or over-long queue name.
	ErrBadQueue = errors.New("invalid queue name")
	// ErrRecordTooLarge is returned for a record above MaxRecordSize.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrNotFound is returned when a record or dead letter does not exist.
	ErrNotFound = errors.New("record not found")
	// ErrNoSpace is returned when a commit cannot fit even after dropping
	// everything that may be dropped (a single batch larger than the budget).
	ErrNoSpace = errors.New("buffer budget too small for batch")
)
