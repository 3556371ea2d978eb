package meta

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
)

// JSON is a jsonb column's value. It goes to Postgres as text: the pool
// runs lib/pq with binary_parameters (one round trip per statement
// instead of two), which sends []byte arguments in binary format, and
// jsonb's binary format is not plain JSON.
type JSON []byte

// Value sends valid JSON as text.
func (j JSON) Value() (driver.Value, error) {
	if !json.Valid(j) {
		return nil, errors.New("meta: invalid JSON value")
	}
	return string(j), nil
}

// Scan copies the column's bytes (the driver reuses its buffer).
func (j *JSON) Scan(src any) error {
	switch v := src.(type) {
	case []byte:
		*j = append((*j)[:0], v...)
	case string:
		*j = append((*j)[:0], v...)
	case nil:
		*j = nil
	default:
		return fmt.Errorf("meta: cannot scan %T into JSON", src)
	}
	return nil
}

// MarshalJSON embeds the value as is (null when empty).
func (j JSON) MarshalJSON() ([]byte, error) {
	if len(j) == 0 {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps a copy of the raw value.
func (j *JSON) UnmarshalJSON(b []byte) error {
	*j = append((*j)[:0], b...)
	return nil
}
