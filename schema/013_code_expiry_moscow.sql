-- Activation codes end at the midnight (Moscow time) after the last day the
-- letter names. Before this version print-letters wrote that midnight as
-- (date AT TIME ZONE 'Europe/Moscow'), which reads the bare date in the
-- session's time zone and the result back in it again: the code ended
-- 2 x (Moscow offset - session offset) late (on a UTC server 6 hours late,
-- at 06:00 Moscow time; east of Moscow, early). Codes written since end
-- exactly at a Moscow midnight. This moves the others back by the same
-- amount, reckoned in the session's time zone as the old writer did (the
-- database's default, as for the jobs). A server on Moscow time changes
-- nothing.
--
-- Safe to run twice: a code at a Moscow midnight is left alone.
UPDATE activation_codes k
   SET expires_at = k.expires_at - 2 * ((now() AT TIME ZONE 'Europe/Moscow') - (now() AT TIME ZONE current_setting('TimeZone')))
 WHERE (k.expires_at AT TIME ZONE 'Europe/Moscow')::time <> '00:00'
   AND ((k.expires_at - 2 * ((now() AT TIME ZONE 'Europe/Moscow') - (now() AT TIME ZONE current_setting('TimeZone'))))
        AT TIME ZONE 'Europe/Moscow')::time = '00:00';
