// The shop example's mesh configuration (examples/shop), so `meshctl validate`
// at the top of the repository checks the file `meshctl up` uses there.
export { default } from './examples/shop/mesh.config.ts';
