DROP TABLE IF EXISTS inspector_links;
