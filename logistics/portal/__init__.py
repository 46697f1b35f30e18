"""Stock in the seller portal (``/<lang>/seller/stock/``): a seller user sees and changes their own
variants' stock in the warehouses their seller may use. Built on the catalog portal (its
``seller_required`` and base template); catalog does not import this package."""
