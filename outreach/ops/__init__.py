"""Operations: structured logs, the record of scheduler passes, and the admin page."""
