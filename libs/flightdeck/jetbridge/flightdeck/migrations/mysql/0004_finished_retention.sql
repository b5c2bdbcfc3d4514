-- Flightdeck 0004: finished flights are deleted once older than the Pilot's retention
-- (``prune_finished``), oldest first by this index (MySQL 8 / MariaDB 10.6+; InnoDB
-- touches it only when ``finished_at`` changes: at the end of a flight, or a reopening).

ALTER TABLE `dp_flights` ADD KEY `dp_flights_finished_idx` (`finished_at`);
