/** @file The README's quick start: jit, grad and vmap of a small function, composed. */

import { grad, jit, numpy as np, vmap, Array } from 'metalgrad';

const f = (x: Array | number): Array => np.add(np.multiply(x, x), 1.0);

console.log('f(x) = x * x + 1');
console.log('jit(f)(2.0)                     =', jit(f)(2.0).item());
console.log('grad(f)(2.0)                    =', grad(f)(2.0).item());
console.log('vmap(f)([1, 2, 3])              =', vmap(f)(np.array([1, 2, 3])).toArray());
console.log('jit(vmap(grad(f)))([1, 2, 3])   =', jit(vmap(grad(f)))(np.array([1, 2, 3])).toArray());
console.log();
console.log('The IR jit compiles for f, with its kernels:');
console.log(jit(f).lower(np.array([1, 2, 3])).asText());
