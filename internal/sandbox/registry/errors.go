package registry

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/twmb/franz-go/pkg/sr"
)

// Error codes a real Confluent Schema Registry answers with, beside the HTTP
// status.
const (
	CodeSubjectNotFound     = 40401
	CodeVersionNotFound     = 40402
	CodeIncompatibleSchema  = 409
	CodeInvalidSchema       = 42201
	CodeInvalidVersion      = 42202
	CodeInvalidCompatLevel  = 42203
	codeInternalStoreFailed = 50001
)

// Error is a registry error as the HTTP API reports it: a status and a
// Confluent error code. Register returns it so that Go callers see the same
// answer an HTTP client would.
type Error struct {
	Status  int    `json:"-"`
	Code    int    `json:"error_code"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("schema registry: %s (HTTP %d, error code %d)", e.Message, e.Status, e.Code)
}

func invalidSchema(format string, args ...any) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalidSchema, Message: fmt.Sprintf(format, args...)}
}

func incompatible(subject string, msgs []string) *Error {
	return &Error{
		Status: http.StatusConflict,
		Code:   CodeIncompatibleSchema,
		Message: fmt.Sprintf("Schema being registered is incompatible with an earlier schema for subject %q, details: %v",
			subject, msgs),
	}
}

func subjectNotFound(subject string) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeSubjectNotFound, Message: fmt.Sprintf("Subject '%s' not found.", subject)}
}

func versionNotFound(subject string, version int) *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeVersionNotFound,
		Message: fmt.Sprintf("Version %d not found for subject '%s'.", version, subject)}
}

func invalidVersion(v string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeInvalidVersion,
		Message: fmt.Sprintf("The specified version '%s' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"", v)}
}

func storeError(err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: codeInternalStoreFailed, Message: err.Error()}
}

// fromResponse turns an srfake error body into an Error.
func fromResponse(status int, body []byte) *Error {
	var e sr.ResponseError
	if err := json.Unmarshal(body, &e); err != nil || e.ErrorCode == 0 {
		return &Error{Status: status, Code: codeInternalStoreFailed, Message: string(body)}
	}
	return &Error{Status: status, Code: e.ErrorCode, Message: e.Message}
}
