"""The seller portal (``/<lang>/seller/``): a seller user manages their own seller's listings.

Layout: ``selectors`` (every read, each with the ownership check), ``services`` (every write),
``forms`` (well-formedness only), ``csv_io`` (CSV export and import), ``views`` (translate requests
to calls), ``urls`` (the ``portal`` namespace).
"""
