-- 0008_cluster_secret: the key the nodes of one store share (Store.ClusterSecret), made by the
-- first node that asks for it; at most one row.

CREATE TABLE cluster_secret (
  id     INTEGER PRIMARY KEY CHECK (id = 1),
  secret BLOB NOT NULL
);
