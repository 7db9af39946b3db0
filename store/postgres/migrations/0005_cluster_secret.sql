-- 0005_cluster_secret: the key the nodes of one database share (Store.ClusterSecret), made by
-- the first node that asks for it; at most one row.

CREATE TABLE cluster_secret (
  id     integer PRIMARY KEY CHECK (id = 1),
  secret bytea NOT NULL
);
