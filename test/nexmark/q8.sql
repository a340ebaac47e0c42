-- q8, monitor new users: the people who created an auction in the same
-- 10-second window as they entered the system.  Flink joins two windowed
-- GROUP BYs on id and window; here the two streams are joined directly,
-- bounded by the window's length (an interval join), the windows compared
-- in WHERE, and the GROUP BY keeps each person and window once.
SELECT p.id, p.name, continuous.tumble(p.date_time, '10 seconds') AS starttime
  FROM person p JOIN auction a
    ON a.seller = p.id
   AND a.date_time BETWEEN p.date_time - interval '10 seconds'
                       AND p.date_time + interval '10 seconds'
 WHERE continuous.tumble(a.date_time, '10 seconds') = continuous.tumble(p.date_time, '10 seconds')
 GROUP BY p.id, p.name, starttime
