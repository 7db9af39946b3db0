-- 0010_image_encoding: how the image column is encoded (images.go): 0 as given, 1 DEFLATE with
-- the store's dictionary. Rows written before keep 0.

ALTER TABLE instances ADD COLUMN image_encoding INTEGER NOT NULL DEFAULT 0;
