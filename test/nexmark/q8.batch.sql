-- q8 as batch SQL, as Flink writes it: the people and the sellers of each
-- 10-second window, joined on id and window.
SELECT p.id, p.name, p.starttime
  FROM (SELECT id, name, continuous.tumble(date_time, '10 seconds') AS starttime
          FROM person GROUP BY id, name, starttime) p
  JOIN (SELECT seller, continuous.tumble(date_time, '10 seconds') AS starttime
          FROM auction GROUP BY seller, starttime) a
    ON p.id = a.seller AND p.starttime = a.starttime
