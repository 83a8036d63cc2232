-- The organisation a source credits a paper to (Hugging Face), for readers who pin or mute it.
ALTER TABLE papers ADD COLUMN organization TEXT;
