/* Docstrings shared by several types: the transport methods that the
 * stream, datagram, pipe and TLS transports have in common.  Each starts
 * with its text signature (CPython's "name($self, ...)\n--\n\n"
 * convention, which inspect.signature() reads) and says in one line what
 * asyncio's docstring for the method says.  Signatures are asyncio's:
 * a parameter that asyncio's Python method takes by keyword is taken by
 * keyword here too (args.h). */
#ifndef CX_DOCS_H
#define CX_DOCS_H

#define CX_DOC_SIG(sig, doc) sig "\n--\n\n" doc

#define CX_DOC_TR_CLOSE \
    CX_DOC_SIG("close($self, /)", "Close the transport.")
#define CX_DOC_TR_ABORT \
    CX_DOC_SIG("abort($self, /)", "Close the transport immediately.")
#define CX_DOC_TR_IS_CLOSING \
    CX_DOC_SIG("is_closing($self, /)", \
               "Return True if the transport is closing or closed.")
#define CX_DOC_TR_IS_READING \
    CX_DOC_SIG("is_reading($self, /)", \
               "Return True if the transport is receiving.")
#define CX_DOC_TR_PAUSE_READING \
    CX_DOC_SIG("pause_reading($self, /)", "Pause the receiving end.")
#define CX_DOC_TR_RESUME_READING \
    CX_DOC_SIG("resume_reading($self, /)", "Resume the receiving end.")
#define CX_DOC_TR_SET_PROTOCOL \
    CX_DOC_SIG("set_protocol($self, protocol)", "Set a new protocol.")
#define CX_DOC_TR_GET_PROTOCOL \
    CX_DOC_SIG("get_protocol($self, /)", "Return the current protocol.")
#define CX_DOC_TR_GET_WRITE_BUFFER_SIZE \
    CX_DOC_SIG("get_write_buffer_size($self, /)", \
               "Return the current size of the write buffer.")
#define CX_DOC_TR_GET_WRITE_BUFFER_LIMITS \
    CX_DOC_SIG("get_write_buffer_limits($self, /)", \
               "Get the high and low watermarks for write flow control.")
#define CX_DOC_TR_WRITE \
    CX_DOC_SIG("write($self, data)", \
               "Write some data bytes to the transport.")
#define CX_DOC_TR_WRITE_EOF \
    CX_DOC_SIG("write_eof($self, /)", \
               "Close the write end after flushing buffered data.")
#define CX_DOC_TR_CAN_WRITE_EOF \
    CX_DOC_SIG("can_write_eof($self, /)", \
               "Return True if this transport supports write_eof(), " \
               "False if not.")
/* The event handlers the loop calls: no docstring in asyncio. */
#define CX_DOC_TR_READ_READY CX_DOC_SIG("_read_ready($self, /)", "")
#define CX_DOC_TR_WRITE_READY CX_DOC_SIG("_write_ready($self, /)", "")

#endif /* CX_DOCS_H */
